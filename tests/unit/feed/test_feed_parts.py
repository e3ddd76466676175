"""The feed's parts on a ManualClock: watchdog, backoff, state machine, gap detection, REST polling."""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streambot.bus import InProcessBus, PriceBoard
from streambot.clock import ManualClock
from streambot.domain import BestBidAsk, FeedState, ProductId
from streambot.events import Event, FeedGapDetected, FeedStateChanged
from streambot.feed.backoff import ReconnectBackoff
from streambot.feed.gaps import GapDetector
from streambot.feed.log_once import OnceLogger
from streambot.feed.poller import RestPricePoller
from streambot.feed.state import FeedStateMachine
from streambot.feed.watchdog import StreamWatchdog


async def test_the_watchdog_declares_silence_after_stale_after_seconds() -> None:
    clock = ManualClock()
    frames = 0
    watchdog = StreamWatchdog(clock, 1.0, lambda: frames)
    watching = asyncio.create_task(watchdog.watch(lambda: True))
    await asyncio.sleep(0)  # it starts watching now
    for _ in range(20):  # a frame every 0.5 s keeps it alive
        frames += 50
        await clock.run_for(0.5)
    assert not watching.done()
    assert 50 <= watchdog.rate <= 150  # 100 frames/s, seen in bursts over about a second
    assert watchdog.last_frame_age is not None
    assert watchdog.last_frame_age < 0.5
    await clock.run_for(1.2)
    assert watching.done()
    assert await watching > 1.0
    assert watchdog.rate == 0.0


async def test_the_watchdog_stops_when_the_connection_does() -> None:
    clock = ManualClock()
    connected = True
    watchdog = StreamWatchdog(clock, 3.0, lambda: 0)
    watching = asyncio.create_task(watchdog.watch(lambda: connected))
    await asyncio.sleep(0)
    await clock.run_for(0.5)
    connected = False
    await clock.run_for(0.2)
    assert await watching == 0.0
    assert watchdog.last_frame_age is None  # no frame ever


def test_the_watchdog_needs_a_positive_stale_period() -> None:
    with pytest.raises(ValueError, match="stale_after"):
        StreamWatchdog(ManualClock(), 0, lambda: 0)


def test_backoff_grows_to_its_cap_with_full_jitter_and_resets_after_a_live_connection() -> None:
    backoff = ReconnectBackoff(base=0.5, cap=4.0, rng=random.Random(1))
    ceilings = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    for ceiling in ceilings:
        delay = backoff.next_delay(went_live=False)
        assert 0.0 <= delay <= ceiling
    assert backoff.attempt == len(ceilings)
    assert backoff.next_delay(went_live=True) <= 0.5
    assert backoff.attempt == 0


def test_the_state_machine_publishes_changes_and_counts_live_time() -> None:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    bus = InProcessBus(clock)
    seen: list[FeedStateChanged] = []
    bus.subscribe(FeedStateChanged, seen.append)
    machine = FeedStateMachine(bus, clock, where="ws://test", products=2)
    assert machine.uptime_ratio == 1.0  # never ran
    machine.run_started()
    machine.move(FeedState.CONNECTING, "start")
    clock.advance_by(1)
    machine.move(FeedState.LIVE, "receiving")
    machine.move(FeedState.LIVE, "receiving")  # no news: not published again
    clock.advance_by(3)
    assert machine.uptime_ratio == pytest.approx(0.75)
    machine.move(FeedState.RECONNECTING, "lost")
    machine.move(FeedState.RECONNECTING, "lost again")  # every retry is news
    clock.advance_by(4)
    assert machine.uptime_ratio == pytest.approx(3 / 8)
    assert [e.state for e in seen] == ["connecting", "live", "reconnecting", "reconnecting"]
    assert seen[1].since == clock.time() - 7  # from the feed's clock
    assert seen[1].ts == seen[1].since


def test_gaps_are_counted_warned_once_and_published(caplog: pytest.LogCaptureFixture) -> None:
    bus = InProcessBus(ManualClock())
    events: list[Event] = []
    bus.subscribe("feed.gap", events.append)
    gaps = GapDetector(bus, OnceLogger(logging.getLogger("test.feed")))
    with caplog.at_level(logging.DEBUG, "test.feed"):
        gaps.sequence_gap(5, 9, "ticker")
        gaps.sequence_gap(12, 13, "ticker")
        for counter in (1, 2, 5, None, 6):
            gaps.heartbeat(counter)
    assert (gaps.sequence_gaps, gaps.heartbeat_gaps, gaps.heartbeats) == (2, 1, 5)
    assert events == [
        FeedGapDetected(kind="sequence", expected=5, got=9, channel="ticker", ts=events[0].ts),
        FeedGapDetected(kind="sequence", expected=12, got=13, channel="ticker", ts=events[1].ts),
        FeedGapDetected(kind="heartbeat", expected=3, got=5, channel="heartbeats", ts=events[2].ts),
    ]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one per kind; the second sequence gap went to DEBUG
    gaps.new_connection()
    gaps.heartbeat(1)  # counters restart with the connection: no gap
    assert gaps.heartbeat_gaps == 1


async def test_the_poller_polls_on_its_clock_onto_the_board_and_the_bus() -> None:
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    bus, board = InProcessBus(clock), PriceBoard()
    box = bus.tick_mailbox("test")
    requests: list[float] = []

    async def best_bid_ask(products: list[ProductId]) -> list[BestBidAsk]:
        requests.append(clock.monotonic())
        return [BestBidAsk(p, Decimal("99"), Decimal("101"), clock.now()) for p in products]

    poller = RestPricePoller(
        best_bid_ask, [ProductId("BTC-USD"), ProductId("ETH-USD")], bus, board=board, clock=clock, interval=5
    )
    published: list[int] = []
    polling = asyncio.create_task(poller.run(first_delay=1.0, on_published=lambda: published.append(1)))
    await asyncio.sleep(0)
    await clock.run_for(12.0)
    polling.cancel()
    assert requests == [1.0, 6.0, 11.0]
    assert len(published) == 3
    assert board.ticks_by_product == {"BTC-USD": 3, "ETH-USD": 3}
    btc = board.get(ProductId("BTC-USD"))
    assert btc is not None
    assert btc.price == 100.0
    assert btc.sequence == -1
    assert len(box) == 2
