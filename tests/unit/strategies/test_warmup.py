from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from streambot.clock import ManualClock
from streambot.domain import Candle, Timeframe
from streambot.strategies.base import WarmUpRequest
from streambot.strategies.warmup import CandleHistory

NOW = 1_700_000_030.0  # 30 s into a minute: the minute under way is not closed
CLOCK = ManualClock(datetime.fromtimestamp(NOW, UTC))


class Exchange:
    """Answers like the exchange client: every interval from start to end, and one past it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Timeframe, int, int]] = []
        self.fail = False

    async def candles(self, product_id: str, timeframe: Timeframe, start: int, end: int) -> Sequence[Candle]:
        self.calls.append((product_id, timeframe, start, end))
        await asyncio.sleep(0)  # a real request yields to the loop
        if self.fail:
            raise RuntimeError("exchange down")
        # One interval past the end too, as an exchange may: it must not count as closed.
        return [Candle(at, 60, 1.0, 2.0, 0.5, 1.5, 3.0) for at in range(end, start - 1, -60)]


def request(count: int) -> WarmUpRequest:
    return WarmUpRequest(Timeframe.ONE_MINUTE, count)


async def test_history_is_the_closed_candles_only_oldest_first() -> None:
    exchange = Exchange()
    history = CandleHistory(exchange.candles, CLOCK)
    candles = await history.closed_candles("BTC-USD", request(1000))
    assert len(candles) == 1000
    starts = [c.start for c in candles]
    assert starts == sorted(starts)
    assert starts[-1] + 60 <= NOW  # the last one has closed
    assert starts[-1] + 120 > NOW  # and it is the newest that has
    assert len(exchange.calls) == 1


async def test_many_bots_starting_at_once_share_one_request() -> None:
    exchange = Exchange()
    history = CandleHistory(exchange.candles, CLOCK)
    results = await asyncio.gather(*(history.closed_candles("BTC-USD", request(50)) for _ in range(100)))
    assert len(exchange.calls) == 1
    assert all(len(r) == 50 for r in results)
    # Cached: a bot starting a moment later costs nothing; a smaller request is served from it.
    assert len(await history.closed_candles("BTC-USD", request(20))) == 20
    assert len(exchange.calls) == 1
    # Another product is its own request.
    await history.closed_candles("ETH-USD", request(50))
    assert len(exchange.calls) == 2


async def test_an_unavailable_exchange_raises_to_the_caller_and_the_next_call_tries_again() -> None:
    exchange = Exchange()
    exchange.fail = True
    history = CandleHistory(exchange.candles, CLOCK)
    with pytest.raises(RuntimeError, match="exchange down"):
        await history.closed_candles("BTC-USD", request(10))
    exchange.fail = False
    assert len(await history.closed_candles("BTC-USD", request(10))) == 10
