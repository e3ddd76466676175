"""Simulator benchmark: the price path per tick (``streambot bench --only simulator``).

Three walks, measured back to back in the same run:

1. streambot's ``SimMarket.step`` (walk, best bid/ask and their sizes, the trade, candles and the
   rolling 24 h figures, the tick object) with no listener;
2. the same with the embedded ``Simulator``'s own listener (matching engine update, fan-out with
   no subscriber): the Decimal values the wire and the paper account need are made there;
3. the references: a plain-Python float random walk (one ``gauss`` and one ``exp`` a tick), a
   vectorised numpy random walk (``exp(cumsum(normal))``) and the same drawn in blocks of 2,048
   and handed out one Python float a tick (the shape of what ``step`` does), all per tick.

Prints figures and asserts nothing: the target (≤ 2 µs a tick for 1.) is read by people.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable

import numpy as np

from streambot.clock import SystemClock
from streambot.simulator.market import SimMarket
from streambot.simulator.server import Simulator, SimulatorConfig

PRODUCTS = ("BTC-USD", "ETH-USD", "BONK-USD")
TICKS = 200_000
NUMPY_TICKS = 1_000_000
REPEATS = 3
T0 = 1_760_000_000.0


def _best_of(run: Callable[[], float]) -> float:
    return min(run() for _ in range(REPEATS))


def _market_step_us(market: SimMarket, ticks: int) -> float:
    step = market.step
    products = PRODUCTS
    count = len(products)
    start = time.perf_counter()
    for i in range(ticks):
        step(products[i % count], T0 + i * 0.01)
    return (time.perf_counter() - start) / ticks * 1e6


def sim_market_us(ticks: int = TICKS) -> float:
    """µs per ``SimMarket.step`` (no listener), best of a few runs."""
    market = SimMarket(PRODUCTS, clock=SystemClock(), seed=1)
    return _best_of(lambda: _market_step_us(market, ticks))


def simulator_step_us(ticks: int = TICKS) -> float:
    """µs per step with the embedded simulator's listener (matching engine, idle fan-out)."""
    simulator = Simulator(SimulatorConfig(products=PRODUCTS, seed=1))
    return _best_of(lambda: _market_step_us(simulator.market, ticks))


def python_walk_us(ticks: int = TICKS) -> float:
    """µs per tick of a plain-Python float geometric random walk."""

    def run() -> float:
        gauss, exp = random.Random(1).gauss, math.exp
        log_price, sigma = math.log(97_000.0), 1e-4
        price = 0.0
        start = time.perf_counter()
        for _ in range(ticks):
            log_price += sigma * gauss(0.0, 1.0)
            price = exp(log_price)
        elapsed = time.perf_counter() - start
        assert price > 0
        return elapsed / ticks * 1e6

    return _best_of(run)


def numpy_walk_us(ticks: int = NUMPY_TICKS) -> float:
    """µs per tick of a vectorised numpy geometric random walk."""

    def run() -> float:
        rng = np.random.default_rng(1)
        start = time.perf_counter()
        prices = 97_000.0 * np.exp(np.cumsum(1e-4 * rng.standard_normal(ticks)))
        elapsed = time.perf_counter() - start
        assert prices.shape == (ticks,)
        return elapsed / ticks * 1e6

    return _best_of(run)


def numpy_block_walk_us(ticks: int = TICKS) -> float:
    """µs per tick of a numpy walk drawn in blocks and handed out one Python float a tick."""

    def run() -> float:
        rng = np.random.default_rng(1)
        log_price, block = math.log(97_000.0), 2048
        total = 0.0
        start = time.perf_counter()
        done = 0
        while done < ticks:
            path = np.exp(log_price + np.cumsum(1e-4 * rng.standard_normal(block)))
            log_price = math.log(float(path[-1]))
            for price in path.tolist():
                total += price
            done += block
        elapsed = time.perf_counter() - start
        assert total > 0
        return elapsed / done * 1e6

    return _best_of(run)


def print_simulator_benchmarks(ticks: int = TICKS) -> dict[str, float]:
    figures = {
        "sim_market_step_us": sim_market_us(ticks),
        "sim_step_with_listener_us": simulator_step_us(ticks),
        "python_float_walk_us": python_walk_us(ticks),
        "numpy_walk_us": numpy_walk_us(),
        "numpy_block_walk_us": numpy_block_walk_us(ticks),
    }
    print(f"Simulator price path ({ticks:,} ticks over {len(PRODUCTS)} products, best of {REPEATS}):")
    print(f"  SimMarket.step                      {figures['sim_market_step_us']:8.3f} µs/tick  (goal ≤ 2)")
    print(f"  step + embedded simulator listener  {figures['sim_step_with_listener_us']:8.3f} µs/tick")
    print(
        f"  plain-Python float random walk      {figures['python_float_walk_us']:8.3f} µs/tick  (reference)"
    )
    print(f"  numpy random walk (vectorised)      {figures['numpy_walk_us']:8.3f} µs/tick  (reference)")
    print(f"  numpy walk in blocks, tick by tick  {figures['numpy_block_walk_us']:8.3f} µs/tick  (reference)")
    return figures


if __name__ == "__main__":
    print_simulator_benchmarks()
