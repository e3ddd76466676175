"""The simulator's market-data WebSocket, spoken to over loopback by a real aiohttp client."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType

from streambot.clock import SystemClock
from streambot.simulator.connection import Connection
from streambot.simulator.faults import Faults
from streambot.simulator.server import Simulator, SimulatorConfig

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coinbase"
PRODUCTS = ("BTC-USD", "ETH-USD", "BONK-USD")
WAIT = 10.0  # generous upper bound for any awaited condition; never a duration that is asserted
RFC3339_NANO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,8}[1-9])?Z$")
GO_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{0,8}[1-9])? \+0000 UTC m=\+\d+\.\d{9}$")

Frame = dict[str, Any]


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text().strip()


def fixture(name: str) -> Any:
    return orjson.loads(fixture_text(name))


def config(**overrides: Any) -> SimulatorConfig:
    values: dict[str, Any] = {
        "products": PRODUCTS,
        "seed": 11,
        "tick_rate_scale": 20.0,
        "heartbeat_interval": 0.05,
        "subscribe_timeout": 5.0,
    }
    values.update(overrides)
    return SimulatorConfig(**values)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(config())
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


async def receive_text(ws: aiohttp.ClientWebSocketResponse) -> str:
    message = await asyncio.wait_for(ws.receive(), WAIT)
    assert message.type is WSMsgType.TEXT, message
    assert isinstance(message.data, str)
    return message.data


async def receive(ws: aiohttp.ClientWebSocketResponse) -> Frame:
    frame = orjson.loads(await receive_text(ws))
    assert isinstance(frame, dict)
    return frame


async def receive_until(ws: aiohttp.ClientWebSocketResponse, ready: Callable[[Frame], bool]) -> list[Frame]:
    """Every frame up to and including the first one for which ``ready`` holds."""
    frames = []
    while True:
        frame = await receive(ws)
        frames.append(frame)
        if ready(frame):
            return frames


def subscribe(channel: str, product_ids: Any = None, kind: str = "subscribe") -> dict[str, Any]:
    message: dict[str, Any] = {"type": kind, "channel": channel, "jwt": "ignored-for-now"}
    if product_ids is not None:
        message["product_ids"] = product_ids
    return message


def is_channel(channel: str) -> Callable[[Frame], bool]:
    return lambda frame: frame.get("channel") == channel


async def test_product_ids_as_a_string_get_exactly_coinbases_error_frame(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(sim.ws_url) as ws:
        await ws.send_str('{"type":"subscribe","product_ids":"BTC-USD","channel":"ticker"}')
        assert await receive_text(ws) == fixture_text("ws_error_product_ids_string.json")


async def test_an_unknown_channel_gets_authentication_failure(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(sim.ws_url) as ws:
        await ws.send_json(subscribe("tickers", ["BTC-USD"]))
        assert await receive_text(ws) == fixture_text("ws_error_authentication_failure.json")
        # The connection stays usable for a correct subscribe.
        await ws.send_json(subscribe("heartbeats"))
        assert (await receive(ws))["channel"] == "subscriptions"


async def test_malformed_control_frames_get_flat_error_frames(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(sim.ws_url) as ws:
        for raw in (
            "not json",
            '{"type":"subscribe","channel":"ticker","product_ids":[1]}',
            '{"type":"hello"}',
        ):
            await ws.send_str(raw)
            frame = await receive(ws)
            assert set(frame) == {"type", "message"}
            assert frame["type"] == "error"
        await ws.send_json(subscribe("ticker", ["NOPE-USD"]))
        assert await receive(ws) == {"type": "error", "message": "failure to subscribe"}


async def test_a_client_that_never_subscribes_is_closed() -> None:
    simulator = Simulator(config(subscribe_timeout=0.2))
    await simulator.start()
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(simulator.ws_url) as ws:
            assert await receive(ws) == {"type": "error", "message": "subscribe or unsubscribe required"}
            closing = await asyncio.wait_for(ws.receive(), WAIT)
            assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
            assert ws.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
    finally:
        await simulator.stop()


async def test_a_client_that_subscribes_in_time_stays_connected() -> None:
    simulator = Simulator(config(subscribe_timeout=0.5))
    await simulator.start()
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(simulator.ws_url) as ws:
            await ws.send_json(subscribe("heartbeats"))
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 1.0  # well past the subscribe timeout
            while loop.time() < deadline:
                frame = await receive(ws)
                assert frame["channel"] in ("subscriptions", "heartbeats")
            assert not ws.closed
    finally:
        await simulator.stop()


async def test_the_subscriptions_ack_lists_everything_on_the_connection(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async def ack(message: dict[str, Any]) -> Frame:
        await ws.send_json(message)
        frames = await receive_until(ws, is_channel("subscriptions"))
        return frames[-1]

    async with http.ws_connect(sim.ws_url) as ws:
        first = await ack(subscribe("ticker", ["BTC-USD"]))
        reference = fixture("ws_subscriptions.json")
        assert set(reference) <= set(first)
        assert set(first) - set(reference) == {"client_id"}
        assert set(first["events"][0]) == set(reference["events"][0])
        assert first["events"][0]["subscriptions"] == {"ticker": ["BTC-USD"]}
        second = await ack(subscribe("heartbeats", []))
        assert second["events"][0]["subscriptions"] == {"ticker": ["BTC-USD"], "heartbeats": ["heartbeats"]}
        third = await ack(subscribe("ticker", ["ETH-USD", "BTC-USD"]))
        assert third["events"][0]["subscriptions"] == {
            "ticker": ["BTC-USD", "ETH-USD"],
            "heartbeats": ["heartbeats"],
        }
        fourth = await ack(subscribe("ticker", ["BTC-USD"], kind="unsubscribe"))
        assert fourth["events"][0]["subscriptions"] == {"ticker": ["ETH-USD"], "heartbeats": ["heartbeats"]}
        fifth = await ack(subscribe("heartbeats", kind="unsubscribe"))
        assert fifth["events"][0]["subscriptions"] == {"ticker": ["ETH-USD"]}


async def test_sequence_numbers_count_every_frame_of_the_connection_from_zero(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    async with http.ws_connect(sim.ws_url) as ws:
        await ws.send_json(subscribe("ticker", ["BTC-USD", "ETH-USD"]))
        await ws.send_json(subscribe("heartbeats"))
        await ws.send_str('{"type":"subscribe","product_ids":"BTC-USD","channel":"ticker"}')  # no envelope
        frames = [await receive(ws) for _ in range(60)]
    enveloped = [f for f in frames if "sequence_num" in f]
    assert {f["channel"] for f in enveloped} >= {"ticker", "heartbeats", "subscriptions"}
    assert [f["sequence_num"] for f in enveloped] == list(range(len(enveloped)))
    assert all(isinstance(f["sequence_num"], int) for f in enveloped)
    assert [f for f in frames if "sequence_num" not in f] == [fixture("ws_error_product_ids_string.json")]


async def test_each_connection_has_its_own_sequence(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url) as first, http.ws_connect(sim.ws_url) as second:
        await first.send_json(subscribe("ticker", ["BTC-USD"]))
        for _ in range(5):
            await receive(first)
        await second.send_json(subscribe("ticker", ["BTC-USD"]))
        assert (await receive(second))["sequence_num"] == 0


async def test_ticker_sends_one_snapshot_then_updates_in_coinbases_shape(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    reference = fixture("ws_ticker.json")
    reference_ticker = reference["events"][0]["tickers"][0]
    async with http.ws_connect(sim.ws_url) as ws:
        await ws.send_json(subscribe("ticker", list(PRODUCTS)))
        frames = [await receive(ws) for _ in range(40)]
    tickers = [f for f in frames if f["channel"] == "ticker"]
    snapshot, updates = tickers[0], tickers[1:]
    assert frames[0] is snapshot
    assert list(snapshot) == list(reference)  # same envelope keys, same order
    assert snapshot["client_id"] == ""
    assert snapshot["sequence_num"] == 0
    (event,) = snapshot["events"]
    assert event["type"] == "snapshot"
    assert [t["product_id"] for t in event["tickers"]] == list(PRODUCTS)
    assert len(updates) > 5
    for frame in updates:
        (event,) = frame["events"]
        assert event["type"] == "update"
        assert len(event["tickers"]) == 1
    for frame in tickers:
        assert RFC3339_NANO.match(frame["timestamp"]), frame["timestamp"]
        for ticker in frame["events"][0]["tickers"]:
            assert list(ticker) == list(reference_ticker)
            check_ticker_values(sim, ticker)


def check_ticker_values(sim: Simulator, ticker: dict[str, Any]) -> None:
    spec = sim.market.spec(ticker["product_id"])
    assert ticker["type"] == "ticker"
    for key, value in ticker.items():
        assert isinstance(value, str), key
        if key not in ("type", "product_id"):
            assert "e" not in value.lower(), (key, value)  # no exponent notation
            Decimal(value)
    price, bid, ask = (Decimal(ticker[k]) for k in ("price", "best_bid", "best_ask"))
    assert bid <= price <= ask
    assert bid < ask
    for key in ("price", "best_bid", "best_ask", "low_24_h", "high_24_h", "low_52_w", "high_52_w"):
        assert Decimal(ticker[key]) % spec.quote_increment == 0, (key, ticker[key])
    for key in ("best_bid_quantity", "best_ask_quantity", "volume_24_h"):
        assert Decimal(ticker[key]) % spec.base_increment == 0, (key, ticker[key])
    assert Decimal(ticker["low_24_h"]) <= price <= Decimal(ticker["high_24_h"])


async def test_heartbeats_arrive_with_a_counter_that_steps_by_one(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    reference = fixture("ws_heartbeats.json")
    async with http.ws_connect(sim.ws_url) as ws:
        await ws.send_json(subscribe("heartbeats", []))
        frames = [await receive(ws) for _ in range(7)]
    ack, beats = frames[0], frames[1:]
    assert ack["events"][0]["subscriptions"] == {"heartbeats": ["heartbeats"]}
    for frame in beats:
        assert list(frame) == list(reference)
        (event,) = frame["events"]
        assert list(event) == list(reference["events"][0])
        assert isinstance(event["heartbeat_counter"], int)
        assert GO_TIME.match(event["current_time"]), event["current_time"]
        assert RFC3339_NANO.match(frame["timestamp"])
    counters = [f["events"][0]["heartbeat_counter"] for f in beats]
    assert [b - a for a, b in itertools.pairwise(counters)] == [1] * (len(counters) - 1)


async def test_unsubscribing_stops_that_products_updates(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url) as ws:
        await ws.send_json(subscribe("ticker", ["BTC-USD", "ETH-USD"]))
        await ws.send_json(subscribe("heartbeats"))
        await receive_until(
            ws, lambda f: f["channel"] == "subscriptions" and "heartbeats" in f["events"][0]["subscriptions"]
        )
        await ws.send_json(subscribe("ticker", ["BTC-USD"], kind="unsubscribe"))
        await receive_until(ws, is_channel("subscriptions"))
        # Heartbeats pace the wait; at ~100 BTC ticks/s a leftover subscription would show.
        after: list[Frame] = []
        for _ in range(4):
            after += await receive_until(ws, is_channel("heartbeats"))
    tickers = [t for f in after if f["channel"] == "ticker" for t in f["events"][0]["tickers"]]
    assert {t["product_id"] for t in tickers} <= {"ETH-USD"}


async def test_external_ticks_reach_subscribers_when_the_walk_is_off(http: aiohttp.ClientSession) -> None:
    simulator = Simulator(config(synthetic=False))
    await simulator.start()
    try:
        async with http.ws_connect(simulator.ws_url) as ws:
            await ws.send_json(subscribe("ticker", ["BTC-USD"]))
            snapshot = await receive(ws)
            assert snapshot["events"][0]["type"] == "snapshot"
            await receive(ws)  # the subscriptions ack
            simulator.market.apply_external_tick("BTC-USD", 100000.5, 100000.0, 100001.0)
            update = await receive(ws)
    finally:
        await simulator.stop()
    (ticker,) = update["events"][0]["tickers"]
    assert update["events"][0]["type"] == "update"
    assert (ticker["price"], ticker["best_bid"], ticker["best_ask"]) == ("100000.5", "100000", "100001")


async def test_protocol_pings_are_answered(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.ws_connect(sim.ws_url, autoping=False) as ws:
        await ws.send_json(subscribe("heartbeats"))
        await ws.ping(b"are you there")
        while True:
            message = await asyncio.wait_for(ws.receive(), WAIT)
            if message.type is WSMsgType.PONG:
                assert message.data == b"are you there"
                break
            assert message.type is WSMsgType.TEXT


async def test_stop_closes_clients_and_leaves_no_task_behind(http: aiohttp.ClientSession) -> None:
    simulator = Simulator(config())
    await simulator.start()
    async with http.ws_connect(simulator.ws_url) as ws:
        await ws.send_json(subscribe("ticker", ["BTC-USD"]))
        await receive(ws)
        await simulator.stop()
        codes = []
        while True:
            message = await asyncio.wait_for(ws.receive(), WAIT)
            if message.type is WSMsgType.CLOSE:
                codes.append(message.data)
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED):
                break
    assert codes == [aiohttp.WSCloseCode.GOING_AWAY]
    assert simulator.connection_count == 0
    leftovers = [t for t in asyncio.all_tasks() if (t.get_name() or "").startswith("simulator-")]
    assert leftovers == []
    with pytest.raises(aiohttp.ClientConnectionError):
        async with http.get(simulator.rest_url + "/api/v3/brokerage/time"):
            pass


async def test_one_frame_per_tick_is_shared_by_all_subscribers(http: aiohttp.ClientSession) -> None:
    simulator = Simulator(config(synthetic=False))
    await simulator.start()
    try:
        sockets = [await http.ws_connect(simulator.ws_url) for _ in range(3)]
        for ws in sockets:
            await ws.send_json(subscribe("ticker", ["ETH-USD"]))
            await receive(ws)
            await receive(ws)
        simulator.market.apply_external_tick("ETH-USD", "3601.5", "3601.49", "3601.51")
        updates = [await receive(ws) for ws in sockets]
        for ws in sockets:
            await ws.close()
    finally:
        await simulator.stop()
    # Identical bytes apart from each connection's own sequence number.
    assert len({orjson.dumps({**u, "sequence_num": 0}) for u in updates}) == 1


class _StuckSocket:
    """Stands in for a client whose TCP window is full: sends never complete."""

    def __init__(self) -> None:
        self.sent = 0

    async def send_frame(self, message: bytes, opcode: WSMsgType) -> None:
        self.sent += 1
        await asyncio.Event().wait()


class _Transport(asyncio.WriteTransport):
    def __init__(self) -> None:
        super().__init__()
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True


async def test_a_client_that_stops_reading_is_dropped_before_its_outbox_grows_unbounded() -> None:
    socket, transport = _StuckSocket(), _Transport()
    conn = Connection(socket, transport, 50, Faults(SystemClock()), SystemClock())  # type: ignore[arg-type]
    conn.sender = asyncio.create_task(conn.run_sender())
    try:
        for _ in range(49):
            conn.send(b'{"seq":', b"}")
        await asyncio.sleep(0)  # the sender takes one frame and gets stuck on it
        assert socket.sent == 1
        for _ in range(10):
            conn.send(b'{"seq":', b"}")
        assert conn.dropped
        assert transport.aborted
        assert len(conn.outbox) == 0
        conn.send(b'{"seq":', b"}")
        assert len(conn.outbox) == 0
    finally:
        conn.sender.cancel()
        await asyncio.gather(conn.sender, return_exceptions=True)
