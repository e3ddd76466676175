"""Backtest benchmark (``streambot bench --only backtest``): replay speed beside its references.

The workload of the peers' anchor scripts (``shared/anchors/backtest``): N seeded random-walk
quotes (numpy PCG64 seed 42, 100 ms apart, BTC about 50,000, spread 1–5 USD), an EMA(10/20) cross
on every quote with market orders. Measured in one run, each the best of a few:

- reference: the plain-Python loop over the same (time, bid, ask) tuples, two EMAs and a cross
  check (no orders): the floor for per-tick Python;
- streambot, 1 bot and 10 bots, pre-parsed ticks (``Ticker`` objects built before timing), through
  the live evaluator, strategy, risk rules, order path and matcher, orders included;
- streambot, 1 bot, from a recording of raw Coinbase ticker frames (zstd JSON lines as
  ``streambot record`` writes them): reading, decompressing and the real frame parser included;
- memory: the process's peak RSS before and after the longest replay.

Each rate is printed twice: by wall-clock time and by the process's CPU time (``cpu``), which a
machine shared with other work disturbs less.

The bots trade every cross as the peers' do: the risk limits and the order cooldown are off (a
zero turns a limit off), fees are Coinbase's entry tier, and the budget is large enough not to
run out. Prints figures and asserts nothing: the targets (≥ 250,000 ticks/s with 1 bot, ≥ 100,000
with 10, ≥ 150,000 frames/s from raw frames) are read by people.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from itertools import chain
from pathlib import Path

import numpy as np
import zstandard

from streambot.backtest.engine import Backtest, BacktestConfig
from streambot.backtest.sources import BacktestData
from streambot.backtest.sources.ticks import make_ticker
from streambot.bots import BotCreate
from streambot.domain import Product, Ticker
from streambot.risk.base import RiskLimits
from streambot.simulator.market import spec_for

TICKS = 1_000_000
MEMORY_TICKS = 10_000_000  # the streamed replay that shows memory stays flat
REPEATS = 1  # the replays are long; compare within one run
SEED = 42
START_NS = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
STEP_NS = 100_000_000
FAST, SLOW = 10, 20
NO_LIMITS = RiskLimits(
    max_order_notional=Decimal(0),
    max_position_notional=Decimal(0),
    daily_loss_pct=Decimal(0),
    max_drawdown_pct=Decimal(0),
    loss_cooldown_s=0.0,
    max_trades_per_hour=0,
    stale_price_s=0.0,
)


def make_quotes(n: int, seed: int = SEED) -> tuple[list[float], list[float], list[float]]:
    """The anchors' generator (``gen_data.make_ticks``): times in seconds, bids and asks."""
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, 0.0002, size=n)
    mid = 50_000.0 * np.exp(np.cumsum(steps))
    half_spread = 0.5 + rng.integers(0, 5, size=n) * 0.5
    bid = np.round(mid - half_spread, 2)
    ask = np.maximum(np.round(mid + half_spread, 2), bid + 0.01)
    ts = (START_NS + np.arange(n, dtype=np.int64) * STEP_NS) / 1e9
    return ts.tolist(), bid.tolist(), ask.tolist()


def python_floor(quotes: list[tuple[float, float, float]]) -> int:
    """The reference: two EMAs and a cross check a tick, in plain Python."""
    a_f, a_s = 2.0 / (FAST + 1), 2.0 / (SLOW + 1)
    ema_f = ema_s = 0.0
    count = signals = 0
    prev: bool | None = None
    for _, bid, ask in quotes:
        mid = (bid + ask) * 0.5
        if count == 0:
            ema_f = ema_s = mid
        else:
            ema_f += a_f * (mid - ema_f)
            ema_s += a_s * (mid - ema_s)
        count += 1
        if count < SLOW:
            continue
        above = ema_f >= ema_s
        if prev is not None and above != prev:
            signals += 1
        prev = above
    return signals


def tickers(quotes: list[tuple[float, float, float]]) -> list[tuple[float, Ticker]]:
    return [(at, make_ticker("BTC-USD", round((bid + ask) / 2, 2), bid, ask, at)) for at, bid, ask in quotes]


def write_recording(directory: Path, quotes: list[tuple[float, float, float]]) -> Path:
    """The quotes as Coinbase ticker frames in a recording file (one hour-file is enough here)."""
    first = datetime.fromtimestamp(quotes[0][0], UTC)
    path = directory / f"feed-{first:%Y%m%dT%H}.jsonl.zst"
    compressor = zstandard.ZstdCompressor(level=3)
    with path.open("wb") as raw, compressor.stream_writer(raw) as out:
        for seq, (at, bid, ask) in enumerate(quotes):
            stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
            price = round((bid + ask) / 2, 2)
            frame = (
                f'{{"channel":"ticker","client_id":"","timestamp":"{stamp}","sequence_num":{seq},'
                f'"events":[{{"type":"update","tickers":[{{"type":"ticker","product_id":"BTC-USD",'
                f'"price":"{price}","volume_24_h":"1000","low_24_h":"1","high_24_h":"100000",'
                f'"low_52_w":"1","high_52_w":"100000","price_percent_chg_24_h":"0","best_bid":"{bid}",'
                f'"best_bid_quantity":"1","best_ask":"{ask}","best_ask_quantity":"1"}}]}}]}}'
            )
            out.write(f'{{"t":{at:.6f},"frame":{frame}}}\n'.encode())
    return path


def bots(count: int) -> list[BotCreate]:
    return [
        BotCreate(
            name=f"ema-{i + 1}",
            strategy="ema_crossover",
            product_id="BTC-USD",
            params={"fast": FAST, "slow": SLOW, "order_pct": 0.1},
            budget=Decimal(10_000_000),
        )
        for i in range(count)
    ]


async def _replay(
    ticks: Callable[[], Iterable[tuple[float, Ticker]]], count: int, product: Product
) -> tuple[float, float, int, int]:
    """Seconds of replay (wall clock and CPU), ticks replayed and orders placed."""
    iterator = iter(ticks())
    first = next(iterator)
    config = BacktestConfig(limits=NO_LIMITS, cooldown_s=0.0)
    backtest = await Backtest.open(bots(count), {"BTC-USD": product}, start=first[0], config=config)
    began, cpu = time.perf_counter(), time.process_time()
    await backtest.run(chain((first,), iterator))
    await backtest.finish()
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    return elapsed, cpu, backtest.ticks, backtest.exchange.orders_matched


def _best(run: Callable[[], tuple[float, float, int, int]]) -> tuple[float, float, int, int]:
    return min((run() for _ in range(REPEATS)), key=lambda figures: figures[0])


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def write_flat_ticks(path: Path, quotes: list[tuple[float, float, float]], repeat: int) -> int:
    """``repeat`` copies of the quotes, one after the other in time, as zstd JSON lines of flat ticks."""
    span = quotes[-1][0] - quotes[0][0] + 0.1
    count = 0
    compressor = zstandard.ZstdCompressor(level=1)
    with path.open("wb") as raw, compressor.stream_writer(raw) as out:
        for copy in range(repeat):
            shift = copy * span
            out.write(
                "".join(
                    f'{{"time":{at + shift:.3f},"product_id":"BTC-USD","price":"{(bid + ask) / 2:.2f}",'
                    f'"best_bid":"{bid}","best_ask":"{ask}"}}\n'
                    for at, bid, ask in quotes
                ).encode()
            )
            count += len(quotes)
    return count


async def _memory(path: Path, product: Product) -> tuple[list[tuple[int, float]], float, float, int]:
    """RSS every 10 % of a streamed replay with the platform's default limits and cooldown."""
    data = BacktestData.open([path])
    iterator = iter(data.ticks())
    first = next(iterator)
    backtest = await Backtest.open(bots(1), {"BTC-USD": product}, start=first[0], config=BacktestConfig())
    samples: list[tuple[int, float]] = []

    def sample(ticks: int, at: float) -> None:
        samples.append((ticks, _current_rss_mb()))

    began, cpu = time.perf_counter(), time.process_time()
    await backtest.run(chain((first,), iterator), sample)
    await backtest.finish()
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    return samples, elapsed, cpu, backtest.exchange.orders_matched


def print_backtest_benchmarks(ticks: int = TICKS) -> None:
    logging.getLogger("streambot").setLevel(logging.ERROR)
    times, bids, asks = make_quotes(ticks)
    quotes = list(zip(times, bids, asks, strict=True))
    print(f"\n📼 Backtest: {ticks:,} seeded random-walk quotes, EMA({FAST}/{SLOW}) cross, market orders")
    floor, floor_cpu = min(_timed(lambda: python_floor(quotes)) for _ in range(REPEATS))
    print(
        f"  reference  plain Python loop (2 EMAs + cross, no orders)   {ticks / floor:>12,.0f} ticks/s"
        f"   (cpu {ticks / floor_cpu:,.0f})"
    )
    product = spec_for("BTC-USD").product()
    parsed = tickers(quotes)
    rss_before = _rss_mb()
    for count in (1, 10):
        # Ten bots trade ten times as often: a fifth of the ticks keeps the run short (a rate).
        ticks_used = parsed if count == 1 else parsed[: len(parsed) // 5]
        elapsed, cpu, replayed, orders = _best(
            lambda n=count, t=ticks_used: asyncio.run(_replay(lambda: t, n, product))  # type: ignore[misc]
        )
        print(
            f"  streambot  {count:>2} bot{'s' if count > 1 else ' '} pre-parsed ticks, orders included"
            f"        {replayed / elapsed:>12,.0f} ticks/s   (cpu {replayed / cpu:,.0f}; {orders:,} orders)"
        )
    with tempfile.TemporaryDirectory() as folder:
        write_recording(Path(folder), quotes)
        data = BacktestData.open([folder])
        elapsed, cpu, replayed, orders = _best(lambda: asyncio.run(_replay(data.ticks, 1, product)))
        print(
            f"  streambot   1 bot  raw recorded frames (zstd, parser)          "
            f"{replayed / elapsed:>12,.0f} frames/s  (cpu {replayed / cpu:,.0f}; {orders:,} orders)"
        )
    print(f"  peak RSS   {rss_before:,.0f} MB before the replays, {_rss_mb():,.0f} MB after")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ticks.jsonl.zst"
        total = write_flat_ticks(path, quotes, max(1, MEMORY_TICKS // len(quotes)))
        samples, elapsed, cpu, orders = asyncio.run(_memory(path, product))
    warm = [rss for ticks, rss in samples if ticks >= total // 5]
    slope = (warm[-1] - warm[0]) / (total * 0.8 / 1e6) if len(warm) > 1 else 0.0
    print(
        f"  streambot   1 bot  {total:,} streamed flat ticks (.zst), default risk limits and 5 s cooldown"
        f"  {total / elapsed:>10,.0f} ticks/s  (cpu {total / cpu:,.0f}; {orders:,} orders)"
    )
    print(
        f"  memory     RSS {samples[0][1]:,.0f} → {samples[-1][1]:,.0f} MB over the streamed replay; "
        f"after the first 20 %: {slope:+.2f} MB per million ticks"
    )
    print("  targets    ≥ 250,000 ticks/s (1 bot), ≥ 100,000 (10 bots), ≥ 150,000 frames/s (raw, 1 bot)")


def _timed(run: Callable[[], object]) -> tuple[float, float]:
    """Seconds ``run`` took: wall clock and CPU."""
    began, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - began, time.process_time() - cpu


if __name__ == "__main__":
    print_backtest_benchmarks()
