from __future__ import annotations

import asyncio

from streambot.bus import InProcessBus, PriceBoard
from streambot.bus.mailbox import TickMailbox
from streambot.clock import ManualClock
from streambot.domain import BotId, FeedState, Ticker
from streambot.events import BotCreated, Event, FeedStateChanged, OrderUpdated, RiskHalted
from tests.factories import order_record, tick


def test_mailbox_keeps_only_the_newest_tick_per_product_and_counts_skips() -> None:
    bus = InProcessBus(ManualClock())
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
    bus = InProcessBus(ManualClock())
    box = bus.tick_mailbox("test")
    products = [f"P{i}-USD" for i in range(8)]
    for i in range(100_000):
        bus.publish_tick(tick(products[i % 8], float(i)))
    assert len(box) == 8
    assert box.skipped == 100_000 - 8


def test_the_price_board_keeps_the_latest_ticker_and_counts() -> None:
    board = PriceBoard()
    board.record(tick("BTC-USD", 1.0))
    board.record(tick("BTC-USD", 2.0))
    latest = board.get("BTC-USD")
    assert latest is not None
    assert latest.price == 2.0
    assert board.latest["BTC-USD"] is latest
    assert board.get("ETH-USD") is None
    assert board.ticks_by_product == {"BTC-USD": 2}
    assert board.ticks_published == 2


def test_a_run_of_ticks_handed_on_as_the_latest_per_product_leaves_what_one_by_one_would() -> None:
    products = ["BTC-USD", "ETH-USD", "BTC-USD", "SOL-USD", "BTC-USD", "ETH-USD"]
    runs = [[tick(p, 100.0 + i, seq=i) for i, p in enumerate(products)], [tick("ETH-USD", 1.0, seq=9)]]
    one_by_one, at_once = InProcessBus(ManualClock()), InProcessBus(ManualClock())
    boxes = [bus.tick_mailbox(name) for bus in (one_by_one, at_once) for name in ("a", "b")]
    boards = [PriceBoard(), PriceBoard()]
    for run in runs:
        latest: dict[str, Ticker] = {}
        counts: dict[str, int] = {}
        for t in run:
            one_by_one.publish_tick(t)
            boards[0].record(t)
            latest[t.product_id] = t
            counts[t.product_id] = counts.get(t.product_id, 0) + 1
        at_once.publish_latest(latest, counts)
        boards[1].record_latest(latest, counts)

    def drained(box: TickMailbox) -> list[Ticker]:
        return list(iter(box.get_nowait, None))

    for mine, theirs in ((boxes[0], boxes[2]), (boxes[1], boxes[3])):
        assert (theirs.skipped, theirs.skipped_by_product) == (mine.skipped, mine.skipped_by_product)
        assert [t.sequence for t in drained(theirs)] == [t.sequence for t in drained(mine)]
    assert (
        boards[1].ticks_by_product == boards[0].ticks_by_product == {"BTC-USD": 3, "ETH-USD": 3, "SOL-USD": 1}
    )
    assert list(boards[1].latest.items()) == list(boards[0].latest.items())


def test_publish_tick_follows_the_mailboxes_as_they_come_and_go() -> None:
    bus = InProcessBus(ManualClock())
    bus.publish_tick(tick())  # nobody listens: dropped
    first = bus.tick_mailbox("first")
    second = bus.tick_mailbox("second")
    bus.publish_tick(tick(seq=1))
    bus.remove_mailbox(first)
    bus.publish_tick(tick(seq=2))
    assert first.skipped == 0
    assert second.skipped == 1
    remaining = second.get_nowait()
    assert remaining is not None
    assert remaining.sequence == 2


def test_urgent_mailboxes_say_when_a_tick_waits() -> None:
    bus = InProcessBus(ManualClock())
    urgent = bus.tick_mailbox("evaluator", urgent=True)
    bus.tick_mailbox("chart")
    assert not bus.ticks_urgent()
    bus.publish_tick(tick("BTC-USD", 1.0))
    assert bus.ticks_urgent()
    urgent.get_nowait()
    assert not bus.ticks_urgent()
    bus.remove_mailbox(urgent)
    bus.publish_tick(tick("BTC-USD", 2.0))
    assert not bus.ticks_urgent()


async def test_get_waits_for_the_next_tick() -> None:
    bus = InProcessBus(ManualClock())
    box = bus.tick_mailbox("test")
    waiter = asyncio.create_task(box.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    bus.publish_tick(tick("SOL-USD", 5.0))
    got = await asyncio.wait_for(waiter, 1)
    assert got.product_id == "SOL-USD"


def test_events_reach_prefix_subscribers_only() -> None:
    bus = InProcessBus(ManualClock())
    orders: list[Event] = []
    bots: list[Event] = []
    everything: list[Event] = []
    bus.subscribe("orders", orders.append)
    bus.subscribe("bot", bots.append)  # a prefix matches whole words only: not "bots.created"
    unsubscribe = bus.subscribe("", everything.append)
    bus.publish(OrderUpdated(order=order_record(status="filled")))
    bus.publish(BotCreated(bot_id=BotId(1)))
    bus.publish(FeedStateChanged(state=FeedState.LIVE, reason="", since=0.0))
    assert [e.topic for e in orders] == ["orders.filled"]
    assert bots == []
    assert [e.topic for e in everything] == ["orders.filled", "bots.created", "feed.state"]
    unsubscribe()
    bus.publish(FeedStateChanged(state=FeedState.STALE, reason="", since=0.0))
    assert len(everything) == 3


def test_events_reach_subscribers_of_their_type() -> None:
    bus = InProcessBus(ManualClock())
    halts: list[RiskHalted] = []
    bus.subscribe(RiskHalted, halts.append)
    bus.publish(BotCreated(bot_id=BotId(1)))
    bus.publish(RiskHalted(scope="account", bot_id=None, code="x", reason="y"))
    assert [h.code for h in halts] == ["x"]


def test_the_bus_stamps_events_from_its_clock_unless_they_carry_a_time() -> None:
    clock = ManualClock()
    clock.advance_by(5)
    bus = InProcessBus(clock)
    stamped = bus.publish(BotCreated(bot_id=BotId(1)))
    assert stamped.ts == clock.time()
    relayed = bus.publish(BotCreated(bot_id=BotId(1), ts=123.0))
    assert relayed.ts == 123.0


def test_a_failing_subscriber_does_not_stop_the_others() -> None:
    bus = InProcessBus(ManualClock())
    seen: list[str] = []

    def broken(event: Event) -> None:
        raise RuntimeError("boom")

    bus.subscribe("orders", broken)
    bus.subscribe("orders", lambda e: seen.append(e.topic))
    bus.publish(OrderUpdated(order=order_record(status="filled")))
    assert seen == ["orders.filled"]
