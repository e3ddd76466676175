"""The old bot's per-product lines: one summary per interval, nothing for a quiet product."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streambot.bus import PriceBoard
from streambot.clock import ManualClock
from streambot.observability.activity import ActivityLog, CacheReading, ProductBots
from tests.factories import tick


def test_lines_summarise_the_interval_per_product() -> None:
    board = PriceBoard()
    bots = {"ETH-USD": ProductBots(running=2, evaluations=0)}
    cache = CacheReading(age_s=None, hit_rate=1.0)
    activity = ActivityLog(board, lambda: bots, lambda: cache, ManualClock(), interval_s=10)
    assert activity.lines() == []  # no tick, no cache read yet: nothing to say

    for price in (4600.0, 4601.5, 4602.7):
        board.record(tick("ETH-USD", price))
    board.record(tick("BTC-USD", 65000.0))
    bots["ETH-USD"] = ProductBots(running=2, evaluations=6)
    cache = CacheReading(age_s=30.3, hit_rate=0.95)
    assert activity.lines() == [
        "📈 Ticker update: BTC-USD @ $65000.0 (1 ticks in the last 10s)",
        "📈 Ticker update: ETH-USD @ $4602.7 (3 ticks in the last 10s)",
        "🤖 Triggering bot evaluations for ETH-USD (2 bots, 3 ticks in the last 10s)",
        "✅ Bot evaluations completed for ETH-USD (6 evaluations in the last 10s)",
        "💾 Using cached balances (cache age: 30.3s, hit rate 95%)",
    ]
    # The next interval counts from here: BTC-USD was quiet, ETH-USD had one tick.
    board.record(tick("ETH-USD", 4603.0))
    bots["ETH-USD"] = ProductBots(running=2, evaluations=8)
    lines = activity.lines()
    assert lines[:3] == [
        "📈 Ticker update: ETH-USD @ $4603.0 (1 ticks in the last 10s)",
        "🤖 Triggering bot evaluations for ETH-USD (2 bots, 1 ticks in the last 10s)",
        "✅ Bot evaluations completed for ETH-USD (2 evaluations in the last 10s)",
    ]


async def test_run_logs_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    board = PriceBoard()
    clock = ManualClock()
    activity = ActivityLog(board, dict, lambda: CacheReading(age_s=None, hit_rate=1.0), clock, interval_s=30)
    task = asyncio.create_task(activity.run())
    try:
        await asyncio.sleep(0)
        for _ in range(100):  # a hundred ticks inside one interval
            board.record(tick("SOL-USD", 150.0))
        with caplog.at_level(logging.INFO, logger="streambot.activity"):
            clock.advance(clock.monotonic() + 29)
            await asyncio.sleep(0)
            assert caplog.messages == []
            clock.advance(clock.monotonic() + 1)
            for _ in range(3):
                await asyncio.sleep(0)
        assert caplog.messages == ["📈 Ticker update: SOL-USD @ $150.0 (100 ticks in the last 30s)"]
    finally:
        task.cancel()
