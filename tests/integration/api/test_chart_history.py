"""The dashboard's charts open on the simulator's seeded history, read through the real client."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest

from streambot.api.market_candles import SEED_CANDLES, MarketCandles
from streambot.bus import InProcessBus
from streambot.clock import SystemClock
from streambot.simulator.server import Simulator, SimulatorConfig
from streambot.venues.coinbase.client import CoinbaseRest

pytestmark = pytest.mark.integration

PRODUCTS = ("BTC-USD", "SOL-USD")


@pytest.fixture
async def client() -> AsyncIterator[CoinbaseRest]:
    simulator = Simulator(SimulatorConfig(products=PRODUCTS, seed=4, rate_limits=False))
    await simulator.start("127.0.0.1", 0)
    rest = CoinbaseRest(simulator.rest_url, clock=SystemClock())
    try:
        yield rest
    finally:
        await rest.close()
        await simulator.stop()


async def test_charts_start_with_the_exchange_history(client: CoinbaseRest) -> None:
    clock = SystemClock()
    charts = MarketCandles(InProcessBus(clock), PRODUCTS, history=client.candles, clock=clock)
    await charts.seed()
    for product in PRODUCTS:
        for timeframe, seconds in (("1m", 60), ("1h", 3600)):
            candles = charts.candles(product, timeframe, 1000)
            assert len(candles) == SEED_CANDLES
            assert not any(forming for _, forming in candles)
            starts = [c.start for c, _ in candles]
            assert starts == list(range(starts[0], starts[0] + SEED_CANDLES * seconds, seconds))
            # Closed candles only: the last one ends at or before now.
            assert starts[-1] + seconds <= clock.time()
        minutes = [c for c, _ in charts.candles(product, "1m", 1000)]
        assert all(a.close == b.open for a, b in itertools.pairwise(minutes))


async def test_a_venue_that_cannot_answer_leaves_the_charts_to_the_ticks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = SystemClock()
    rest = CoinbaseRest("http://127.0.0.1:9", clock=clock, read_attempts=1)  # nothing listens there
    try:
        charts = MarketCandles(InProcessBus(clock), ("BTC-USD",), history=rest.candles, clock=clock)
        await charts.seed()
    finally:
        await rest.close()
    assert charts.candles("BTC-USD", "1m", 10) == []
    assert sum("Chart history not loaded" in r.getMessage() for r in caplog.records) == 1
