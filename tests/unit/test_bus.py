from __future__ import annotations

import asyncio

from streambot.bus import Bus
from streambot.domain import Event
from tests.factories import tick


def test_mailbox_keeps_only_the_newest_tick_per_product_and_counts_skips() -> None:
    bus = Bus()
    box = bus.tick_mailbox("test")
    for i in range(5):
        bus.publish_tick(tick("BTC-USD", 100.0 + i, seq=i))
    bus.publish_tick(tick("ETH-USD", 10.0, seq=5))

    assert len(box) == 2
    assert box.skipped == 4
    assert box.skipped_by_product == {"BTC-USD": 4}
    first = box.get_nowait()
    second = box.get_nowait()
    assert first is not None
    assert first.price == 104.0
    assert second is not None
    assert second.product_id == "ETH-USD"
    assert box.get_nowait() is None


def test_mailbox_stays_bounded_under_a_flood() -> None:
    bus = Bus()
    box = bus.tick_mailbox("test")
    products = [f"P{i}-USD" for i in range(8)]
    for i in range(100_000):
        bus.publish_tick(tick(products[i % 8], float(i)))
    assert len(box) == 8
    assert box.skipped == 100_000 - 8


def test_latest_ticker_and_counts_are_kept() -> None:
    bus = Bus()
    bus.publish_tick(tick("BTC-USD", 1.0))
    bus.publish_tick(tick("BTC-USD", 2.0))
    assert bus.latest["BTC-USD"].price == 2.0
    assert bus.ticks_by_product == {"BTC-USD": 2}


async def test_get_waits_for_the_next_tick() -> None:
    bus = Bus()
    box = bus.tick_mailbox("test")
    waiter = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    bus.publish_tick(tick("SOL-USD", 5.0))
    got = await asyncio.wait_for(waiter, 1)
    assert got.product_id == "SOL-USD"


def test_events_reach_prefix_subscribers_only() -> None:
    bus = Bus()
    orders: list[Event] = []
    everything: list[Event] = []
    bus.subscribe("orders", orders.append)
    unsubscribe = bus.subscribe("", everything.append)
    bus.publish("orders.filled", client_order_id="a")
    bus.publish("ordersx.other")
    bus.publish("feed.state", state="live")
    assert [e.topic for e in orders] == ["orders.filled"]
    assert [e.topic for e in everything] == ["orders.filled", "ordersx.other", "feed.state"]
    unsubscribe()
    bus.publish("feed.state", state="stale")
    assert len(everything) == 3


def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    bus = Bus()
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe("orders", broken)
    bus.subscribe("orders", lambda e: seen.append(e.topic))
    bus.publish("orders.filled")
    assert seen == ["orders.filled"]
