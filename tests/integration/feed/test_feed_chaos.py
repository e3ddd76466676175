"""The feed under faults, as reliability tests that print their figures (tests/chaos.py): socket
kills while bots trade, a silent open socket, poison frames at a steady rate.

Short versions run in ``make test``; ``make chaos`` runs them long (STREAMBOT_CHAOS_LONG=1).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from collections.abc import Callable

import pytest

from streambot.domain import OrderStatus
from streambot.events import Event, FeedStateChanged
from streambot.feed.client import FeedClient
from tests.chaos import report, scale
from tests.integration.feed.conftest import until
from tests.integration.feed.test_faults import Harness, harness, sim
from tests.integration.trading.conftest import NO_RISK_LIMITS, Trading, trading

pytestmark = [pytest.mark.integration, pytest.mark.chaos]
__all__ = ["harness", "sim", "trading"]  # fixtures

BACK_WITHIN_S = 2.0  # the bound: a killed socket is streaming again within 2 s
STALE_WITHIN_S = 3.5  # the bound: a silent open socket is declared stale by then


def _live_past(feed: FeedClient, reconnects: int, tickers: int) -> Callable[[], bool]:
    """Live again after ``reconnects`` reconnects, with tickers streamed past ``tickers``."""
    return lambda: feed.reconnects > reconnects and feed.state == "live" and feed.tickers > tickers


def _reconnected_after(feed: FeedClient, reconnects: int) -> Callable[[], bool]:
    return lambda: feed.reconnects > reconnects


def _longer_than(items: list[float], length: int) -> Callable[[], bool]:
    return lambda: len(items) > length


async def test_socket_kills_while_trading_are_back_within_2s_and_place_no_order_twice(
    trading: Trading,
) -> None:
    kills = scale(6, 80)
    platform = await trading.start(**NO_RISK_LIMITS)
    simulator, feed = platform.simulator, platform.feed
    assert simulator is not None
    bot_id = await trading.churn_bot()

    missed = 0  # ticks the market made while our socket was not streaming (the simulator counts)
    backs: list[float] = []
    for _ in range(kills):
        await until(_live_past(feed, feed.reconnects - 1, feed.tickers), "live and ticking")
        reconnects, streamed = feed.reconnects, feed.tickers
        began = time.monotonic()
        ticks_before = (await simulator.stats())["ticks"]
        await simulator.inject_fault("drop_connections")
        await until(_live_past(feed, reconnects, streamed), "streaming again")
        missed += (await simulator.stats())["ticks"] - ticks_before
        backs.append(time.monotonic() - began)

    await platform.bots.stop(bot_id)
    await platform.order_path.drain()
    ours = await platform.store.page_orders(bot_id=bot_id, limit=10_000)
    by_id = {o.client_order_id: o for o in ours}
    sent = await platform.exchange.list_orders(product_ids=["BTC-USD"])
    counts = Counter(o.client_order_id for o in sent)
    duplicates = sum(1 for n in counts.values() if n > 1)
    orphans = sum(1 for c in counts if c not in by_id)
    report(
        "feed_socket_kills_while_trading",
        kills=kills,
        back_max_s=max(backs),
        back_median_s=statistics.median(backs),
        ticks_missed=missed,
        reconnects=feed.reconnects,
        orders=len(ours),
        filled=sum(1 for o in ours if o.status is OrderStatus.FILLED),
        duplicate_orders=duplicates,
        orphan_orders=orphans,
    )
    assert max(backs) <= BACK_WITHIN_S, backs
    assert duplicates == 0
    assert orphans == 0
    assert len(ours) > 0  # the bot traded through the kills


async def test_a_silent_open_socket_is_declared_stale_within_3_5s(harness: Callable[..., Harness]) -> None:
    h = harness()  # stale_after: the default, 3 s
    await until(lambda: h.client.state == "live" and h.client.tickers > 0, "live")
    ages: list[float] = []

    def on_state(event: Event) -> None:
        # Read at the moment the feed says it: how long the socket had been silent by then.
        if isinstance(event, FeedStateChanged) and event.state == "stale":
            age = h.client.status().last_message_age_s
            assert age is not None
            ages.append(age)

    h.bus.subscribe(FeedStateChanged, on_state)
    trials = scale(1, 5)
    for _ in range(trials):
        reconnects, seen = h.client.reconnects, len(ages)
        await h.inject({"fault": "silence", "seconds": 6.0})
        await until(_longer_than(ages, seen), "stale")
        await until(_reconnected_after(h.client, reconnects), "a reconnect")
        await h.inject({"fault": "silence", "seconds": 0.001})  # ends it: a new one replaces the old
        await until(lambda: h.client.state == "live", "live again")
    report("feed_silent_socket_stale", silences=trials, stale_after_s_max=max(ages), stale_detected=len(ages))
    assert len(ages) >= trials
    assert max(ages) <= STALE_WITHIN_S


@pytest.mark.parametrize("rate", [0.1, 0.5])
async def test_poison_frames_at_a_steady_rate_keep_the_feed_live_and_are_all_counted(
    harness: Callable[..., Harness], rate: float
) -> None:
    h = harness()
    await until(lambda: h.client.state == "live" and h.client.tickers > 0, "live")
    seconds = scale(3, 30)
    malformed_before = h.client.malformed
    injected = 0
    samples = live = 0
    received, malformed = h.client.messages_received, h.client.malformed
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        await asyncio.sleep(0.05)
        samples += 1
        live += h.client.state == "live"
        # As many bad frames as keep their share of everything sent at ``rate``.
        good = (h.client.messages_received - received) - (h.client.malformed - malformed)
        received, malformed = h.client.messages_received, h.client.malformed
        bad = round(max(good, 0) * rate / (1 - rate))
        if bad:
            await h.inject({"fault": "malformed", "count": bad})
            injected += bad
    await until(lambda: h.client.malformed - malformed_before >= injected, "every bad frame counted")
    status = h.client.status()
    share_live = live / samples
    counted = status.malformed - malformed_before
    report(
        f"feed_poison_rate_{round(rate * 100)}pct",
        seconds=seconds,
        frames=status.messages_received,
        bad_frames=injected,
        counted_malformed=counted,
        live_share=share_live,
        reconnects=status.reconnects,
        tickers=status.tickers,
    )
    assert counted == injected  # every bad frame counted, and nothing else counted as bad
    assert share_live >= 0.9
    assert status.reconnects == 0
