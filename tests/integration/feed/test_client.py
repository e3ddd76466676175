"""FeedClient against real servers on loopback: the simulator, and a scripted WebSocket server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from streambot.bus import Bus, InProcessBus, PriceBoard
from streambot.clock import SystemClock
from streambot.events import FeedStateChanged
from streambot.feed.client import FeedClient
from streambot.simulator.server import Simulator, SimulatorConfig
from tests.coinbase_frames import fixture, heartbeat
from tests.integration.feed.conftest import WAIT, until

pytestmark = pytest.mark.integration

CLOCK = SystemClock()  # real sockets on loopback: real time

PRODUCTS = ("BTC-USD", "ETH-USD", "DOGE-USD")


def sim_config() -> SimulatorConfig:
    return SimulatorConfig(products=PRODUCTS, seed=3, tick_rate_scale=20.0, heartbeat_interval=0.2)


class Running:
    def __init__(self, client: FeedClient, bus: Bus) -> None:
        self.client = client
        self.bus = bus
        self.states: list[FeedStateChanged] = []
        bus.subscribe(FeedStateChanged, self.states.append)
        self.task = asyncio.create_task(client.run())

    @property
    def state_names(self) -> list[object]:
        return [e.state for e in self.states]

    async def stop(self) -> None:
        # A stop that hangs fails at the timeout; how fast it is, a loaded machine cannot assert.
        await asyncio.wait_for(self.client.stop(), WAIT)
        await asyncio.wait_for(self.task, WAIT)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(sim_config())
    await simulator.start("127.0.0.1", 0)
    try:
        yield simulator
    finally:
        await simulator.stop()


# --- against the simulator ---------------------------------------------------------------------


async def test_ticks_for_every_product_arrive_on_the_bus(
    sim: Simulator, session: aiohttp.ClientSession
) -> None:
    bus, board = InProcessBus(CLOCK), PriceBoard()
    mailbox = bus.tick_mailbox("test")
    running = Running(FeedClient(sim.ws_url, PRODUCTS, bus, board=board, clock=CLOCK), bus)
    try:
        await until(lambda: set(board.ticks_by_product) == set(PRODUCTS), "ticks for every product")
        await until(lambda: running.client.status().heartbeats >= 2, "heartbeats")
        await until(lambda: bool(running.client.status().subscriptions), "the subscriptions ack")

        status = running.client.status()
        assert status.state == "live"
        assert status.running
        assert status.connected
        assert status.tickers >= len(PRODUCTS)
        assert status.messages_received >= status.heartbeats + 1
        assert (status.malformed, status.unknown, status.errors) == (0, 0, 0)
        assert status.sequence_gaps == 0
        assert status.reconnects == 0
        assert status.last_message_age_s is not None
        assert status.last_message_age_s < WAIT
        assert sorted(status.subscriptions["ticker"]) == sorted(PRODUCTS)
        assert "heartbeats" in status.subscriptions
        assert running.state_names[:2] == ["connecting", "live"]

        tick = await asyncio.wait_for(mailbox.get(), WAIT)
        assert tick.product_id in PRODUCTS
        assert tick.price > 0
        assert tick.best_bid <= tick.best_ask
        assert tick.sequence >= 0
    finally:
        await running.stop()
    assert running.client.status().state == "stopped"
    assert not running.client.status().running
    assert running.state_names[-1] == "stopped"


async def test_reconnects_to_a_new_simulator_on_the_same_port(session: aiohttp.ClientSession) -> None:
    first = Simulator(sim_config())
    await first.start("127.0.0.1", 0)
    port = first.port
    bus, board = InProcessBus(CLOCK), PriceBoard()
    running = Running(
        FeedClient(first.ws_url, PRODUCTS, bus, board=board, clock=CLOCK, stale_after=1.0),
        bus,
    )
    second: Simulator | None = None
    try:
        await until(lambda: board.ticks_published > 0, "first ticks")
        await first.stop()
        await until(lambda: running.client.status().state in ("reconnecting", "stale"), "noticing the loss")
        assert not running.client.status().connected

        second = Simulator(sim_config())
        await second.start("127.0.0.1", port)
        await until(lambda: running.client.status().state == "live", "live again")
        before = board.ticks_published
        await until(lambda: board.ticks_published > before + len(PRODUCTS), "ticks from the new simulator")

        status = running.client.status()
        assert status.reconnects >= 1
        assert status.sequence_gaps == 0  # the new connection's sequence restarts at 0
        assert running.state_names.count("live") == 2
        assert "reconnecting" in running.state_names
    finally:
        await running.stop()
        if second is not None:
            await second.stop()


# --- against a scripted server ---------------------------------------------------------------------


def ticker(seq: int, product: str = "BTC-USD", price: str = "100.5") -> bytes:
    frame = fixture("ws_ticker.json")
    frame["sequence_num"] = seq
    frame["events"][0]["tickers"][0].update(product_id=product, price=price)
    return orjson.dumps(frame)


Script = Callable[[web.WebSocketResponse, int], Awaitable[None]]


@dataclass
class Scripted:
    """A WebSocket server that records what clients send and plays a script per connection."""

    script: Script
    received: list[list[Any]] = field(default_factory=list)
    url: str = ""
    runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"ws://127.0.0.1:{port}/"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        frames: list[Any] = []
        self.received.append(frames)
        reader = asyncio.create_task(self._read(ws, frames))
        try:
            await self.script(ws, len(self.received) - 1)
            await reader
        finally:
            reader.cancel()
        return ws

    @staticmethod
    async def _read(ws: web.WebSocketResponse, frames: list[Any]) -> None:
        async for message in ws:
            if message.type is aiohttp.WSMsgType.TEXT:
                frames.append(orjson.loads(message.data))


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[[Script], Awaitable[Scripted]]]:
    servers: list[Scripted] = []

    async def make(script: Script) -> Scripted:
        server = Scripted(script)
        await server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        await server.stop()


async def test_one_subscribe_per_channel_with_all_products_and_a_fresh_jwt(
    scripted: Callable[[Script], Awaitable[Scripted]], session: aiohttp.ClientSession
) -> None:
    async def script(ws: web.WebSocketResponse, _: int) -> None:
        await ws.send_bytes(heartbeat(0, 1))

    server = await scripted(script)
    tokens = iter(f"token-{i}" for i in range(100))
    bus, board = InProcessBus(CLOCK), PriceBoard()
    products = ("BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD")
    running = Running(
        FeedClient(
            server.url,
            products,
            bus,
            board=board,
            clock=CLOCK,
            jwt_factory=lambda: next(tokens),
        ),
        bus,
    )
    try:
        await until(lambda: bool(server.received) and len(server.received[0]) == 2, "two subscribe frames")
        assert server.received[0] == [
            {"type": "subscribe", "product_ids": list(products), "channel": "ticker", "jwt": "token-0"},
            {"type": "subscribe", "product_ids": list(products), "channel": "heartbeats", "jwt": "token-1"},
        ]
    finally:
        await running.stop()


async def test_without_jwt_factory_no_jwt_key_is_sent(
    scripted: Callable[[Script], Awaitable[Scripted]], session: aiohttp.ClientSession
) -> None:
    async def script(ws: web.WebSocketResponse, _: int) -> None:
        await ws.send_bytes(heartbeat(0, 1))

    server = await scripted(script)
    bus, board = InProcessBus(CLOCK), PriceBoard()
    running = Running(FeedClient(server.url, ["BTC-USD"], bus, board=board, clock=CLOCK), bus)
    try:
        await until(lambda: bool(server.received) and len(server.received[0]) == 2, "two subscribe frames")
        assert all("jwt" not in frame for frame in server.received[0])
        assert all(isinstance(frame["product_ids"], list) for frame in server.received[0])
    finally:
        await running.stop()


async def test_bad_frames_are_counted_never_fatal(
    scripted: Callable[[Script], Awaitable[Scripted]],
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def script(ws: web.WebSocketResponse, _: int) -> None:
        frames = [
            ticker(0),
            b"not json",
            b"[1,2]",
            orjson.dumps(fixture("ws_level2_update.json") | {"sequence_num": 1}),
            orjson.dumps(fixture("ws_market_trades.json") | {"sequence_num": 2}),
            orjson.dumps(fixture("ws_level2_update.json") | {"sequence_num": 3}),
            orjson.dumps(fixture("ws_error_authentication_failure.json")),
            heartbeat(4, 10),
            ticker(7, "ETH-USD", "4602.7"),  # 5 and 6 never came: one gap
            ticker(6, "ETH-USD", "1.0"),  # late: superseded, not published
            heartbeat(8, 13),  # counter jumped: missed heartbeats
            ticker(9, "BTC-USD", "101"),
        ]
        for frame in frames:
            await ws.send_bytes(frame)

    server = await scripted(script)
    bus, board = InProcessBus(CLOCK), PriceBoard()
    caplog.set_level("DEBUG", logger="streambot.feed.client")
    running = Running(FeedClient(server.url, ["BTC-USD", "ETH-USD"], bus, board=board, clock=CLOCK), bus)
    try:
        await until(lambda: running.client.status().messages_received >= 12, "all frames")
        status = running.client.status()
        assert status.state == "live"
        assert (status.tickers, status.heartbeats) == (3, 2)
        assert (status.malformed, status.unknown, status.errors) == (2, 3, 1)
        assert status.sequence_gaps == 1
        assert status.out_of_order == 1
        assert status.heartbeat_gaps == 1
        assert status.last_error == "authentication failure"
        assert board.latest["ETH-USD"].price == 4602.7
        assert board.latest["BTC-USD"].price == 101.0
    finally:
        await running.stop()

    records = [(r.levelname, r.getMessage()) for r in caplog.records]
    unknown = [level for level, text in records if "Ignoring feed frames on channel 'l2_data'" in text]
    assert unknown == ["WARNING", "DEBUG"]  # rate-limited: a warning once, then debug
    assert [level for level, text in records if "Malformed feed frame" in text] == ["WARNING", "DEBUG"]
    assert any(
        level == "ERROR" and "❌" in text and "authentication failure" in text for level, text in records
    )
    assert any(level == "DEBUG" and text == "📈 Ticker update: ETH-USD @ $4602.7" for level, text in records)
    assert any(
        level == "INFO" and text.startswith("🔗 Feed live: 2 products on ws://") for level, text in records
    )
    assert not any(level == "INFO" and "📈" in text for level, text in records)


async def test_poison_frames_are_counted_and_never_freeze_or_drop_the_feed(
    scripted: Callable[[Script], Awaitable[Scripted]], session: aiohttp.ClientSession
) -> None:
    """Every poison frame of the issue, on one connection: the feed stays live on that socket, a
    huge sequence number is a gap (then a resync), and the tickers after it arrive."""

    async def script(ws: web.WebSocketResponse, _: int) -> None:
        nan_bid = fixture("ws_ticker.json")
        nan_bid["sequence_num"] = 3
        nan_bid["events"][0]["tickers"][0].update(best_bid="NaN")
        frames = [
            ticker(0, "BTC-USD", "100"),
            ticker(1).replace(b"BTC-USD", b"BTC-\xff\xfe"),  # invalid UTF-8 in a string
            b'{"channel":"ticker","events":' + b"[" * 5000 + b"]" * 5000 + b"}",  # too deep
            orjson.dumps(nan_bid),  # a NaN bid: the ticker is dropped, the frame counted
            ticker(4, "BTC-USD", "-1"),  # a negative price
            ticker(2**53 - 2, "ETH-USD", "4600"),  # a huge jump: a gap, then a resync
            ticker(5, "BTC-USD", "105"),
            ticker(6, "BTC-USD", "106"),
            b'{"channel":"ticker","sequence_num":' + b"9" * 40 + b',"events":[]}',  # beyond any int
            ticker(7, "BTC-USD", "107"),
        ]
        for frame in frames:
            await ws.send_bytes(frame)
        await asyncio.Event().wait()  # keep the socket open until the server stops

    server = await scripted(script)
    bus, board = InProcessBus(CLOCK), PriceBoard()
    running = Running(FeedClient(server.url, ["BTC-USD", "ETH-USD"], bus, board=board, clock=CLOCK), bus)
    try:
        await until(lambda: "BTC-USD" in board.latest and board.latest["BTC-USD"].price == 107.0, "ticker 7")
        status = running.client.status()
        assert status.state == "live"
        assert status.connected
        assert status.reconnects == 0
        assert len(server.received) == 1  # one connection throughout
        assert status.malformed == 3
        assert status.invalid_tickers == 2
        assert status.sequence_resyncs == 1
        assert status.out_of_order == 0
        assert status.tickers == 5
        assert board.latest["ETH-USD"].price == 4600.0
    finally:
        await running.stop()


async def test_frames_numbered_below_a_bogus_one_resync_after_a_few(
    scripted: Callable[[Script], Awaitable[Scripted]], session: aiohttp.ClientSession
) -> None:
    """A jump within the reorder window drops a few frames as late ones, then takes them again."""

    async def script(ws: web.WebSocketResponse, _: int) -> None:
        await ws.send_bytes(ticker(0, "BTC-USD", "100"))
        await ws.send_bytes(ticker(50, "BTC-USD", "150"))
        for seq in range(1, 21):
            await ws.send_bytes(ticker(seq, "BTC-USD", str(200 + seq)))
        await asyncio.Event().wait()

    server = await scripted(script)
    bus, board = InProcessBus(CLOCK), PriceBoard()
    running = Running(FeedClient(server.url, ["BTC-USD"], bus, board=board, clock=CLOCK), bus)
    try:
        await until(lambda: "BTC-USD" in board.latest and board.latest["BTC-USD"].price == 220.0, "ticker 20")
        status = running.client.status()
        assert status.out_of_order == 5
        assert status.sequence_resyncs == 1
    finally:
        await running.stop()


async def test_silence_is_stale_then_reconnect(
    scripted: Callable[[Script], Awaitable[Scripted]], session: aiohttp.ClientSession
) -> None:
    async def script(ws: web.WebSocketResponse, _: int) -> None:
        await ws.send_bytes(heartbeat(0, 1))
        await asyncio.sleep(WAIT)  # then nothing: no heartbeats

    server = await scripted(script)
    bus, board = InProcessBus(CLOCK), PriceBoard()
    running = Running(
        FeedClient(server.url, ["BTC-USD"], bus, board=board, clock=CLOCK, stale_after=0.3),
        bus,
    )
    try:
        await until(lambda: len(server.received) >= 2, "a second connection")
        assert "stale" in running.state_names
        stale = next(e for e in running.states if e.state == "stale")
        assert "no frame for 0.3s" in stale.reason
        await until(lambda: running.client.status().reconnects >= 1, "a counted reconnect")
    finally:
        await running.stop()


async def test_stop_is_prompt_while_the_server_is_unreachable(session: aiohttp.ClientSession) -> None:
    bus, board = InProcessBus(CLOCK), PriceBoard()
    with_no_server = "ws://127.0.0.1:9/"  # discard port: connection refused
    running = Running(FeedClient(with_no_server, ["BTC-USD"], bus, board=board, clock=CLOCK), bus)
    await until(lambda: running.client.status().state == "reconnecting", "a failed connect")
    await asyncio.sleep(0.2)
    await running.stop()
    assert running.client.status().state == "stopped"
    assert not running.client.connected
