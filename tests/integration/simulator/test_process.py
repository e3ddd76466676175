"""The paper simulator in its own process: started, reached, told prices, stopped, and its failures
reported (simulator/process.py and simulator/child.py)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from streambot.clock import SystemClock
from streambot.simulator.process import SimulatorFailed, SimulatorProcess
from streambot.simulator.server import SimulatorConfig
from streambot.venues.coinbase.client import CoinbaseRest

PRODUCTS = ("BTC-USD", "ETH-USD")


@pytest.fixture
async def child(tmp_path: Path) -> AsyncIterator[SimulatorProcess]:
    simulator = SimulatorProcess(
        SimulatorConfig(products=PRODUCTS, seed=2, tick_rate_scale=50, state_path=tmp_path / "paper.db"),
        log_level="WARNING",
    )
    await simulator.start("127.0.0.1", 0)
    try:
        yield simulator
    finally:
        await simulator.stop()


async def _eventually(check: object, what: str) -> None:
    for _ in range(400):
        value = check() if callable(check) else check
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def test_the_child_serves_coinbases_rest_and_its_admin_endpoints(child: SimulatorProcess) -> None:
    assert child.pid is not None
    assert child.pid != os.getpid()
    rest = CoinbaseRest(child.rest_url, clock=SystemClock())
    try:
        products = await rest.products(list(PRODUCTS))
        assert {p.product_id for p in products} == set(PRODUCTS)
    finally:
        await rest.close()

    first = await child.stats()

    async def ticking() -> bool:
        return int((await child.stats())["ticks"]) > int(first["ticks"])

    await _eventually(ticking, "the child's market ticks")
    assert first["rate_limited"] == 0
    assert first["rss_bytes"] > 0

    injected = await child.inject_fault("latency", ms=10, seconds=30)
    assert injected["fault"] == "latency"
    assert [f["fault"] for f in await child.active_faults()] == ["latency"]
    assert await child.clear_faults() == 1
    assert await child.active_faults() == []


async def test_prices_written_to_the_child_move_its_market(tmp_path: Path) -> None:
    simulator = SimulatorProcess(SimulatorConfig(products=PRODUCTS, seed=2, synthetic=False))
    await simulator.start("127.0.0.1", 0)
    rest = CoinbaseRest(simulator.rest_url, clock=SystemClock())
    try:
        simulator.apply_external_tick("BTC-USD", 123456.5, 123456.0, 123457.0)
        simulator.apply_external_tick("NOT-LISTED", 1.0, 1.0, 1.0)  # ignored, as in-process

        async def followed() -> bool:
            book = (await rest.best_bid_ask(["BTC-USD"]))[0]
            return str(book.bid) == "123456.00" or float(book.bid) == 123456.0

        await _eventually(followed, "the external price in the child's book")
    finally:
        await rest.close()
        await simulator.stop()
    assert not simulator.running


async def test_a_stop_is_clean_and_a_child_that_dies_is_reported(child: SimulatorProcess) -> None:
    pid = child.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(SimulatorFailed, match="stopped on its own"):
        await asyncio.wait_for(child.wait(), 30)


async def test_a_child_that_cannot_start_says_why() -> None:
    simulator = SimulatorProcess(SimulatorConfig(products=PRODUCTS), log_level="CRITICAL")
    with pytest.raises(SimulatorFailed, match="did not start"):
        await simulator.start("no-such-host.invalid", 0)
    assert not simulator.running


async def test_a_second_simulator_waits_for_the_first_to_let_go_of_the_paper_account(tmp_path: Path) -> None:
    config = SimulatorConfig(products=PRODUCTS, seed=2, state_path=tmp_path / "paper.db")
    first = SimulatorProcess(config)
    second = SimulatorProcess(config)
    await first.start("127.0.0.1", 0)
    starting = asyncio.ensure_future(second.start("127.0.0.1", 0))
    try:
        await asyncio.sleep(1.0)
        assert not starting.done()  # the account is the first one's
        await first.stop()  # as a killed platform's simulator does at the end of its stdin
        await asyncio.wait_for(starting, 30)
        assert second.running
    finally:
        await first.stop()
        await second.stop()
