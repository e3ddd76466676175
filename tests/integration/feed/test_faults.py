"""The feed healing itself, against the simulator's fault injection over real loopback sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import msgspec
import orjson
import pytest
from aiohttp import web

from streambot.bus import InProcessBus, PriceBoard
from streambot.clock import SystemClock
from streambot.events import Event, FeedGapDetected, FeedStateChanged
from streambot.feed.client import FeedClient
from streambot.simulator.server import Simulator, SimulatorConfig
from streambot.venues.coinbase.client import CoinbaseRest
from tests.chaos import report
from tests.integration.feed.conftest import WAIT, until

pytestmark = pytest.mark.integration

CLOCK = SystemClock()  # real sockets on loopback: real time

PRODUCTS = ("BTC-USD", "ETH-USD")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(
        SimulatorConfig(products=PRODUCTS, seed=7, tick_rate_scale=20.0, heartbeat_interval=0.2)
    )
    await simulator.start("127.0.0.1", 0)
    try:
        yield simulator
    finally:
        await simulator.stop()


class Harness:
    """A FeedClient on the simulator with REST polling wired, recording its events."""

    def __init__(self, sim: Simulator, session: aiohttp.ClientSession, **options: Any) -> None:
        self.sim = sim
        self.bus, self.board = InProcessBus(CLOCK), PriceBoard()
        self.rest = CoinbaseRest(sim.rest_url, clock=SystemClock(), session=session)
        self.events: list[Event] = []
        self.bus.subscribe("feed", self.events.append)
        self.client = FeedClient(
            sim.ws_url,
            PRODUCTS,
            self.bus,
            board=self.board,
            clock=CLOCK,
            prices=self.rest.best_bid_ask,
            **options,
        )
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.client.run())

    async def stop(self) -> None:
        await self.client.stop()
        if self.task is not None:
            await asyncio.wait_for(self.task, WAIT)
        await self.rest.close()

    def states(self, topic: str = "feed.state") -> list[Any]:
        return [e.state for e in self.events if isinstance(e, FeedStateChanged) and e.topic == topic]

    def gaps(self) -> list[dict[str, Any]]:
        return [msgspec.structs.asdict(e) for e in self.events if isinstance(e, FeedGapDetected)]

    def streamed_ticks(self) -> int:
        return self.client.tickers

    async def inject(self, fault: dict[str, Any]) -> None:
        base = self.sim.rest_url.rstrip("/")
        async with aiohttp.ClientSession() as http, http.post(f"{base}/sim/faults", json=fault) as response:
            assert response.status == 200, await response.text()


@pytest.fixture
async def harness(sim: Simulator, session: aiohttp.ClientSession) -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(**options: Any) -> Harness:
        h = Harness(sim, session, **options)
        made.append(h)
        h.start()
        return h

    yield make
    for h in made:
        await h.stop()


async def test_a_dropped_socket_is_resubscribed_and_ticking_again(harness: Callable[..., Harness]) -> None:
    h = harness()
    await until(lambda: h.client.state == "live" and h.client.tickers > 0, "first ticks")

    await h.inject({"fault": "drop_connections"})
    await until(lambda: h.client.reconnects >= 1, "a reconnect")
    ticks_after_drop = h.client.tickers
    await until(lambda: h.client.state == "live", "live again")
    await until(lambda: h.client.tickers > ticks_after_drop, "ticking again")

    status = h.client.status()
    assert set(status.subscriptions.get("ticker", ())) == set(PRODUCTS)  # resubscribed to all
    states = h.states()
    assert states[:2] == ["connecting", "live"]
    assert "reconnecting" in states
    assert states[-1] == "live"
    assert all(isinstance(e.since, float) for e in h.events if isinstance(e, FeedStateChanged))


async def test_a_silent_socket_is_stale_then_reconnected(harness: Callable[..., Harness]) -> None:
    h = harness(stale_after=0.5)
    await until(lambda: h.client.state == "live", "live")

    await h.inject({"fault": "silence", "seconds": 1.0})
    await until(lambda: "stale" in h.states(), "stale detected")
    stale = next(e for e in h.events if isinstance(e, FeedStateChanged) and e.state == "stale")
    assert "no frame for 0.5s" in stale.reason
    await until(lambda: h.client.reconnects >= 1 and h.client.state == "live", "reconnected and live")


async def test_skipped_sequence_numbers_are_counted_and_published(harness: Callable[..., Harness]) -> None:
    h = harness()
    await until(lambda: h.client.state == "live" and h.client.tickers > 0, "live")

    await h.inject({"fault": "skip_sequence", "count": 5})
    await until(lambda: h.client.sequence_gaps >= 1, "a counted gap")
    gap = h.gaps()[0]
    assert gap["kind"] == "sequence"
    assert gap["got"] - gap["expected"] == 5
    assert gap["channel"] in {"ticker", "heartbeats"}


async def test_malformed_frames_are_counted_and_the_stream_goes_on(harness: Callable[..., Harness]) -> None:
    h = harness()
    await until(lambda: h.client.state == "live" and h.client.tickers > 0, "live")

    await h.inject({"fault": "malformed", "count": 4})
    await until(lambda: h.client.malformed >= 4, "counted malformed frames")
    ticks = h.client.tickers
    await until(lambda: h.client.tickers > ticks, "ticking on")
    assert h.client.state == "live"
    assert h.client.reconnects == 0


@pytest.mark.chaos
async def test_poison_frames_leave_the_feed_live_and_later_tickers_arrive(
    harness: Callable[..., Harness],
) -> None:
    """The issue's poison frames through the simulator: counted, never fatal, never a freeze."""
    h = harness()
    await until(lambda: h.client.state == "live" and h.client.tickers > 0, "live")
    good_before = {p: h.board.latest[p] for p in PRODUCTS if p in h.board.latest}

    await h.inject({"fault": "poison", "count": 2})
    await until(lambda: h.client.malformed >= 8, "counted malformed frames")
    await until(lambda: h.client.invalid_tickers >= 8, "dropped invalid tickers")
    ticks = h.client.tickers
    # Frames numbered normally again after the bogus one far ahead: a resync, then tickers flow.
    await until(lambda: h.client.tickers > ticks + 10, "ticking on after the poison")

    status = h.client.status()
    report(
        "feed_poison_huge_sequence_bad_bid_ask",
        rounds=2,
        malformed=status.malformed,
        invalid_tickers=status.invalid_tickers,
        sequence_resyncs=status.sequence_resyncs,
        out_of_order=status.out_of_order,
        reconnects=status.reconnects,
        state=status.state,
    )
    assert status.state == "live"
    assert status.reconnects == 0
    assert status.sequence_resyncs >= 1
    assert status.out_of_order <= 5 * 2  # at most a few frames before each resync
    for product in PRODUCTS:
        tick = h.board.latest[product]
        assert tick.best_bid > 0
        assert tick.best_bid <= tick.best_ask < float("inf")
        assert tick.sequence < 2**53
    assert good_before  # prices were there before, and valid ones replaced them


async def test_prices_keep_coming_from_rest_while_the_socket_is_down(harness: Callable[..., Harness]) -> None:
    h = harness(stale_after=0.4, poll_interval=0.2, poll_grace=0.1)
    await until(lambda: h.client.state == "live", "live")

    await h.inject({"fault": "silence", "seconds": 1.5})
    await until(lambda: h.client.state == "polling", "polling")
    polled_before = h.client.status().polled_tickers
    await until(
        lambda: h.client.status().polled_tickers >= polled_before + 2 * len(PRODUCTS), "repeated polls"
    )
    assert all(h.board.latest[p].sequence == -1 for p in PRODUCTS)  # REST prices on the bus
    assert h.board.latest["BTC-USD"].best_bid <= h.board.latest["BTC-USD"].best_ask

    # Once the silence ends the stream takes over again and polling stops.
    await until(lambda: h.client.state == "live", "live again")
    polls = h.client.status().polls
    await asyncio.sleep(0.6)  # three poll intervals: none may run while live
    assert h.client.status().polls <= polls + 1  # at most the one refresh on reconnect
    assert "polling" in h.states()


async def test_a_user_stopped_stream_polls_then_resumes(harness: Callable[..., Harness]) -> None:
    h = harness(poll_interval=0.2)
    await until(lambda: h.client.state == "live", "live")

    await h.client.stop_stream()
    await until(lambda: h.client.state == "polling", "polling")
    assert not h.client.connected
    await until(lambda: h.client.status().polled_tickers >= 2 * len(PRODUCTS), "polled tickers")
    polling = next(e for e in h.events if isinstance(e, FeedStateChanged) and e.state == "polling")
    assert "stopped by the user" in polling.reason

    h.client.start_stream()
    ticks = h.client.tickers
    await until(lambda: h.client.state == "live" and h.client.tickers > ticks, "streaming again")


# --- the user channel, against a scripted server ---------------------------------------------


async def test_a_gap_on_the_user_channel_triggers_reconciliation(session: aiohttp.ClientSession) -> None:
    received: list[dict[str, Any]] = []

    def frame(channel: str, seq: int, events: list[Any]) -> bytes:
        envelope = {"channel": channel, "client_id": "", "timestamp": "2026-01-01T00:00:00Z"}
        return orjson.dumps(envelope | {"sequence_num": seq, "events": events})

    async def handle(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for _ in range(3):
            received.append(orjson.loads((await ws.receive()).data))
        hb = [{"current_time": "", "heartbeat_counter": 1}]
        await ws.send_bytes(frame("heartbeats", 0, hb))
        await ws.send_bytes(frame("user", 1, [{"type": "snapshot", "orders": []}]))
        await ws.send_bytes(frame("user", 4, [{"type": "update", "orders": []}]))  # 2 and 3 lost
        await asyncio.sleep(WAIT)
        return ws

    app = web.Application()
    app.router.add_get("/", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.2)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    reasons: list[str] = []

    async def reconcile(reason: str) -> None:
        reasons.append(reason)

    tokens = iter(f"jwt-{i}" for i in range(100))
    bus, board = InProcessBus(CLOCK), PriceBoard()
    client = FeedClient(
        f"ws://127.0.0.1:{runner.addresses[0][1]}/",
        ["BTC-USD"],
        bus,
        board=board,
        clock=CLOCK,
        channels=("ticker", "heartbeats", "user"),
        jwt_factory=lambda: next(tokens),
        on_user_gap=reconcile,
    )
    task = asyncio.create_task(client.run())
    try:
        await until(lambda: bool(reasons), "a reconciliation")
        assert reasons == ["sequence gap 2 → 4"]
        assert client.user_frames == 2
        assert [(f["channel"], f["jwt"], f["product_ids"]) for f in received] == [
            ("ticker", "jwt-0", ["BTC-USD"]),
            ("heartbeats", "jwt-1", ["BTC-USD"]),
            ("user", "jwt-2", ["BTC-USD"]),
        ]
    finally:
        await client.stop()
        await asyncio.wait_for(task, WAIT)
        await runner.cleanup()
