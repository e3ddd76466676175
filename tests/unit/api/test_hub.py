"""The event hub and its clients, without sockets: ids, replay, reset, cut-off of a stuck client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from streambot.api.live.client import LiveClient
from streambot.api.live.frames import Channel
from streambot.api.live.hub import EventHub
from streambot.bus import InProcessBus
from streambot.clock import ManualClock
from streambot.domain import BotId, BotState, FeedState, Ticker
from streambot.events import BotStateChanged, FeedStateChanged, OrderUpdated, RiskHalted, TradeBooked
from tests.factories import order_record, trade_record


async def no_status() -> dict[str, Any]:
    return {}


def make_hub(**options: object) -> tuple[InProcessBus, EventHub]:
    clock = ManualClock()
    bus = InProcessBus(clock)
    options.setdefault("status_source", no_status)
    return bus, EventHub(bus, clock=clock, **options)  # type: ignore[arg-type]


def filled(bot_id: int, n: int = 0) -> OrderUpdated:
    return OrderUpdated(order=order_record(bot_id, "filled", f"c-{n}"))


def frames(client: LiveClient) -> list[dict[str, object]]:
    return [json.loads(f) for f in [*client.replay, *client.queue]]


def test_replay_gives_missed_events_of_the_channel_only() -> None:
    bus, hub = make_hub(ring_size=100)
    bus.publish(filled(1))
    bus.publish(FeedStateChanged(state=FeedState.LIVE, reason="", since=0.0))
    bus.publish(TradeBooked(trade=trade_record(2)))
    client = LiveClient(hub, Channel.TRADE_EXECUTION, queue_size=10)
    hub.attach(client, last_event_id=0)
    sent = frames(client)
    assert sent[0]["type"] == "hello"
    assert sent[0]["last_event_id"] == 3
    assert [(f["id"], f["topic"]) for f in sent[1:]] == [(1, "orders.filled"), (3, "trades.executed")]


def test_an_id_older_than_the_ring_or_from_the_future_gets_a_reset() -> None:
    bus, hub = make_hub(ring_size=2)
    for n in range(5):
        bus.publish(filled(1, n))
    old = LiveClient(hub, Channel.TRADE_EXECUTION, queue_size=10)
    hub.attach(old, last_event_id=1)
    assert [f["type"] for f in frames(old)] == ["hello", "reset"]
    future = LiveClient(hub, Channel.TRADE_EXECUTION, queue_size=10)
    hub.attach(future, last_event_id=50)
    assert [f["type"] for f in frames(future)] == ["hello", "reset"]
    edge = LiveClient(hub, Channel.TRADE_EXECUTION, queue_size=10)
    hub.attach(edge, last_event_id=3)  # ring holds 4 and 5: nothing missed
    assert [f.get("id") for f in frames(edge)[1:]] == [4, 5]


def test_a_bot_channel_sees_its_bot_and_account_wide_events() -> None:
    bus, hub = make_hub()
    client = LiveClient(hub, Channel.BOTS, queue_size=10, bot_id=7)
    hub.attach(client, None)
    bus.publish(filled(8))
    bus.publish(filled(7))
    bus.publish(RiskHalted(scope="account", bot_id=None, code="x", reason="y"))
    bus.publish(BotStateChanged(bot_id=BotId(7), state=BotState.RUNNING, reason=""))
    hub._fan_out()
    assert [f["topic"] for f in frames(client)[1:]] == ["orders.filled", "risk.halted", "bots.state"]


async def test_a_client_stuck_in_send_is_cut_off_and_holds_nothing() -> None:
    bus, hub = make_hub()
    client = LiveClient(hub, Channel.TRADE_EXECUTION, queue_size=5)
    hub.attach(client, None)
    never = asyncio.get_running_loop().create_future()
    in_send = asyncio.Event()

    async def stuck_send(frame: str) -> None:
        in_send.set()
        await never  # a socket whose buffer is full and whose peer never reads

    client.task = asyncio.create_task(client.pump(stuck_send, {}))
    async with asyncio.timeout(10):
        await in_send.wait()  # the pump is stuck sending hello
    for n in range(100):
        bus.publish(filled(1, n))
    hub._fan_out()
    assert client.too_slow
    assert hub.cut_off_total == 1
    assert client not in hub.clients
    assert len(client.queue) == 0  # nothing piles up for a client that is gone
    await asyncio.wait({client.task})
    assert client.task.cancelled()


async def test_a_status_frame_that_cannot_be_built_is_logged_not_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken() -> dict[str, object]:
        raise RuntimeError("store gone")

    async def working() -> dict[str, object]:
        return {"feed": {"state": "live"}}

    _, hub = make_hub(status_source=broken)
    assert await hub.status_frame() is None
    assert "could not build the status frame" in caplog.text
    hub.status_source = working
    frame = await hub.status_frame()
    assert frame is not None
    assert json.loads(frame) == {"type": "status", "feed": {"state": "live"}}


def tick(product: str, price: float) -> Ticker:
    return Ticker(
        product_id=product,
        price=price,
        best_bid=price - 1,
        best_ask=price + 1,
        volume_24h=10.0,
        low_24h=price - 100,
        high_24h=price + 100,
        price_change_pct_24h=0.5,
        time=1_700_000_000.0,
        received_ns=0,
        sequence=1,
    )


async def test_a_window_sends_every_changed_product_in_one_frame() -> None:
    _, hub = make_hub()
    client = LiveClient(hub, Channel.MARKET, queue_size=10)
    hub.attach(client, None)
    latest = {"BTC-USD": tick("BTC-USD", 50_000.0), "ETH-USD": tick("ETH-USD", 3_000.0)}
    sent: list[dict[str, object]] = []
    both = asyncio.Event()

    async def send(frame: str) -> None:
        sent.append(json.loads(frame))
        if len(sent) == 2:
            both.set()

    client.task = asyncio.create_task(client.pump(send, latest))
    async with asyncio.timeout(10):
        await both.wait()
    client.task.cancel()
    assert [f["type"] for f in sent] == ["hello", "tickers"]
    items = sent[1]["tickers"]
    assert isinstance(items, list)
    assert [(t["product_id"], t["price"]) for t in items] == [("BTC-USD", 50_000.0), ("ETH-USD", 3_000.0)]


async def test_clients_with_tickers_due_are_woken_one_per_turn_of_the_loop() -> None:
    # Woken together, their sends would run back to back in one turn, and a tick arriving
    # meanwhile would wait for all of them before the evaluator saw it.
    _, hub = make_hub()
    clients = [LiveClient(hub, Channel.MARKET, queue_size=10) for _ in range(10)]
    turns = asyncio.create_task(hub._turns())
    for client in clients:
        client.tickers_changed()
        client.tickers_changed()  # asking twice queues a client once
    woken: list[int] = []
    for _ in range(30):
        await asyncio.sleep(0)
        woken.append(sum(client.wake.is_set() for client in clients))
    turns.cancel()
    assert woken[-1] == len(clients)
    assert all(later - earlier <= 1 for earlier, later in zip([0, *woken], woken, strict=False))
    assert all(client.ticker_dirty and not client.turn_queued for client in clients)


async def test_a_client_write_waits_for_a_tick_the_engine_has_not_decided_on() -> None:
    bus, hub = make_hub()
    engine_box = bus.tick_mailbox("engine", urgent=True)
    order: list[str] = []

    async def engine() -> None:
        while True:
            await engine_box.get()
            order.append("decided")

    async def send(frame: str) -> None:
        order.append(str(json.loads(frame)["type"]))

    engine_task = asyncio.create_task(engine())
    await asyncio.sleep(0)  # the engine waits for ticks
    client = LiveClient(hub, Channel.TRADE_EXECUTION, queue_size=10)
    hub.attach(client, None)
    client.task = asyncio.create_task(client.pump(send, {}))  # queued first, with hello to write
    bus.publish_tick(tick("BTC-USD", 50_000.0))  # the engine's wake-up queued behind it
    for _ in range(5):
        await asyncio.sleep(0)
    client.task.cancel()
    engine_task.cancel()
    assert order == ["decided", "hello"]


async def test_status_frames_and_pings_follow_the_hub_clock() -> None:
    clock = ManualClock()
    bus = InProcessBus(clock)
    built = 0

    async def source() -> dict[str, object]:
        nonlocal built
        built += 1
        return {"n": built}

    hub = EventHub(bus, clock=clock, ping_interval=15.0, status_interval=2.0, status_source=source)
    client = LiveClient(hub, Channel.STATUS, queue_size=10)
    hub.attach(client, None)
    periodic = asyncio.create_task(hub._periodic())
    await asyncio.sleep(0)
    await clock.run_for(14.5)
    assert built == 7
    assert client.status_frame is not None
    assert json.loads(client.status_frame) == {"type": "status", "n": 7}
    assert not client.ping_due
    await clock.run_for(2.0)
    assert client.ping_due
    periodic.cancel()


async def test_a_market_client_sends_at_most_once_per_window_on_the_hub_clock() -> None:
    _, hub = make_hub()
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    client = LiveClient(hub, Channel.MARKET, queue_size=10, max_rate=2.0)  # a 0.5 s window
    hub.attach(client, None)
    latest = {"BTC-USD": tick("BTC-USD", 50_000.0)}
    sent: list[dict[str, object]] = []

    async def send(frame: str) -> None:
        sent.append(json.loads(frame))

    client.task = asyncio.create_task(client.pump(send, latest))
    for _ in range(5):
        await asyncio.sleep(0)
    assert [f["type"] for f in sent] == ["hello", "tickers"]
    latest["BTC-USD"] = tick("BTC-USD", 50_001.0)
    client.tickers_changed()
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(sent) == 2  # inside the window: held
    turns = asyncio.create_task(hub._turns())
    await clock.run_for(0.5)  # the window's timer wakes it
    client.task.cancel()
    turns.cancel()
    assert [f["type"] for f in sent] == ["hello", "tickers", "tickers"]
