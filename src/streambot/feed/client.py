"""The market-data feed: one Coinbase WebSocket connection, ticks onto the bus, reconnect forever.

One connection carries every product: after connecting, one subscribe frame per channel lists all
products as an array (the system this replaces subscribed per product with a string and got an
error frame back). The heartbeats channel keeps the socket alive and tells us quickly when the
stream has gone quiet: no frame for ``stale_after`` seconds → close and reconnect with
exponential backoff and full jitter.

While the socket is down (and while the user has stopped the stream) prices come from REST best
bid/ask polling (state ``polling``), and every new connection refreshes them from REST at once so
a product that trades rarely does not wait for its next ticker. Every state change is a
``feed.state`` event; sequence gaps and heartbeat-counter jumps are ``feed.gap`` events, and with
the ``user`` channel subscribed a gap (or a reconnect) calls ``on_user_gap`` so the trading engine
reconciles its orders over REST.

The receive loop is the hot path. It does no per-frame allocation beyond what ``parse_frame``
returns, takes one clock reading per frame, never logs per tick at INFO, and leaves staleness and
the messages/s rate to a watchdog task so the loop needs no per-frame timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import aiohttp
import msgspec

from streambot.bus import Bus
from streambot.feed.messages import SubscribeRequest
from streambot.feed.parse import Frame, FrameKind, MalformedFrame, parse_frame
from streambot.feed.poller import PriceSource, RestPricePoller

log = logging.getLogger(__name__)

CONNECTING: Final = "connecting"
LIVE: Final = "live"
STALE: Final = "stale"
RECONNECTING: Final = "reconnecting"
POLLING: Final = "polling"
STOPPED: Final = "stopped"
STATES: Final = (CONNECTING, LIVE, STALE, RECONNECTING, POLLING, STOPPED)

BACKOFF_BASE_S: Final = 0.5
BACKOFF_CAP_S: Final = 30.0
CONNECT_TIMEOUT_S: Final = 10.0
CLOSE_TIMEOUT_S: Final = 1.0
STOP_GRACE_S: Final = 2.0
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024  # subscriptions acks / snapshots can be large
POLL_INTERVAL_S: Final = 5.0
POLL_GRACE_S: Final = 1.0  # a socket back within this long needs no REST poll
USER_CHANNEL: Final = "user"

UserGapHandler = Callable[[str], Awaitable[object]]
"""``on_user_gap(reason)``: reconcile orders over REST; user-channel updates may have been lost."""

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A snapshot of the feed for the API, metrics and health checks."""

    state: str
    running: bool  # the run() task is alive
    connected: bool
    messages_received: int
    tickers: int
    heartbeats: int
    malformed: int
    unknown: int
    errors: int
    sequence_gaps: int
    out_of_order: int
    heartbeat_gaps: int
    reconnects: int
    polls: int
    polled_tickers: int
    uptime_ratio: float  # share of the time since run() started spent live
    messages_per_second: float
    last_message_age_s: float | None
    last_error: str
    subscriptions: dict[str, list[str]]


class FeedClient:
    """Consumes Coinbase market data over one WebSocket and publishes every ticker on the bus."""

    def __init__(
        self,
        ws_url: str,
        products: Sequence[str],
        bus: Bus,
        *,
        channels: Sequence[str] = ("ticker", "heartbeats"),
        jwt_factory: Callable[[], str] | None = None,
        stale_after: float = 3.0,
        session: aiohttp.ClientSession | None = None,
        prices: PriceSource | None = None,
        poll_interval: float = POLL_INTERVAL_S,
        poll_grace: float = POLL_GRACE_S,
        on_user_gap: UserGapHandler | None = None,
    ) -> None:
        if not products:
            raise ValueError("FeedClient needs at least one product")
        if stale_after <= 0:
            raise ValueError("stale_after must be positive")
        self.ws_url = ws_url
        self.products: tuple[str, ...] = tuple(dict.fromkeys(products))
        self.channels: tuple[str, ...] = tuple(dict.fromkeys(channels))
        self._bus = bus
        self._jwt_factory = jwt_factory
        self._stale_after = stale_after
        self._session = session
        self._random = random.Random()
        self._poller = RestPricePoller(prices, self.products, bus, interval=poll_interval) if prices else None
        self._poll_grace = poll_grace
        self._poll_task: asyncio.Task[None] | None = None
        self._refresh_task: asyncio.Task[None] | None = None
        self.on_user_gap = on_user_gap
        self._reconcile_task: asyncio.Task[None] | None = None
        self._reconcile_again = ""
        self._stream_enabled = True
        self._wake: asyncio.Event | None = None

        self._state = STOPPED
        self._state_since = 0.0  # monotonic
        self._run_started = 0.0  # monotonic; 0 = never ran
        self._live_seconds = 0.0
        self._running = False
        self._stopping = False
        self._run_task: asyncio.Task[Any] | None = None
        self._ws: aiohttp.ClientWebSocketResponse[Literal[False]] | None = None
        self._stale = False

        self.messages_received = 0
        self.tickers = 0
        self.heartbeats = 0
        self.malformed = 0
        self.unknown = 0
        self.errors = 0
        self.sequence_gaps = 0
        self.out_of_order = 0
        self.heartbeat_gaps = 0
        self.reconnects = 0
        self.user_frames = 0
        self._connections = 0  # subscribed connections since construction
        self.connected_ns = 0  # perf_counter_ns when the current/last socket opened
        self._last_frame_ns = 0  # perf_counter_ns of the last frame; 0 = none yet
        self._last_heartbeat: int | None = None
        self._rate = 0.0
        self._last_error = ""
        self._subscriptions: dict[str, list[str]] = {}
        self._warned: set[tuple[str, str]] = set()

    # --- public --------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def connected(self) -> bool:
        ws = self._ws
        return ws is not None and not ws.closed

    @property
    def uptime_ratio(self) -> float:
        """Share of the time since ``run()`` started that the feed was live (1.0 before it ran)."""
        if not self._run_started:
            return 1.0
        now = time.monotonic()
        live = self._live_seconds + (now - self._state_since if self._state == LIVE else 0.0)
        total = now - self._run_started
        return min(1.0, live / total) if total > 0 else 1.0

    def status(self) -> FeedStatus:
        now_ns = time.perf_counter_ns()
        poller = self._poller
        age = (now_ns - self._last_frame_ns) / 1e9 if self._last_frame_ns else None
        return FeedStatus(
            state=self._state,
            running=self._running,
            connected=self.connected,
            messages_received=self.messages_received,
            tickers=self.tickers,
            heartbeats=self.heartbeats,
            malformed=self.malformed,
            unknown=self.unknown,
            errors=self.errors,
            sequence_gaps=self.sequence_gaps,
            out_of_order=self.out_of_order,
            heartbeat_gaps=self.heartbeat_gaps,
            reconnects=self.reconnects,
            polls=poller.polls if poller else 0,
            polled_tickers=poller.tickers_published if poller else 0,
            uptime_ratio=round(self.uptime_ratio, 4),
            messages_per_second=round(self._rate, 1),
            last_message_age_s=None if age is None else round(age, 3),
            last_error=self._last_error,
            subscriptions={k: list(v) for k, v in self._subscriptions.items()},
        )

    async def run(self) -> None:
        """Connect, subscribe, consume; reconnect on any loss. Returns after ``stop()``."""
        if self._running:
            raise RuntimeError("FeedClient.run() is already running")
        self._running = True
        self._stopping = False
        self._wake = asyncio.Event()
        self._run_task = asyncio.current_task()
        self._run_started = time.monotonic()
        self._live_seconds = 0.0
        own_session = self._session is None
        session = self._session or aiohttp.ClientSession()
        attempt = 0
        try:
            self._set_state(CONNECTING, "start")
            while not self._stopping:
                if not self._stream_enabled:
                    await self._poll_while_stream_stopped()
                    attempt = 0
                    continue
                went_live = False
                try:
                    went_live, reason = await self._connection(session)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    reason = _describe(exc)
                    if not isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
                        log.exception("❌ Feed connection failed unexpectedly")
                if self._stopping or not self._stream_enabled:
                    continue
                self._last_error = reason
                attempt = 0 if went_live else attempt + 1
                delay = self._random.uniform(
                    0.0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempt - 1))
                )
                if self._state == POLLING:
                    # Prices flow from REST meanwhile; the state stays "polling", not flapping.
                    log.info("🔄 Feed still down (%s); retrying in %.1fs", reason, delay)
                else:
                    self._set_state(RECONNECTING, f"{reason}; retrying in {delay:.1f}s")
                self._start_polling(self._poll_grace)
                await self._sleep_unless_woken(delay)
                if not self._stopping and self._stream_enabled:
                    self.reconnects += 1
        finally:
            self._running = False
            self._ws = None
            await self._cancel_background()
            self._set_state(STOPPED, "stop requested" if self._stopping else "run ended")
            if own_session:
                await session.close()

    async def stop(self) -> None:
        """Close the socket and end ``run()``; returns within a couple of seconds at worst."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        await self._close_socket()
        task = self._run_task
        if task is None or task.done() or task is asyncio.current_task():
            return
        done, _ = await asyncio.wait({task}, timeout=STOP_GRACE_S)
        if not done:
            # Stuck in a connect or a close handshake: cancelling is the prompt way out.
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def stop_stream(self) -> None:
        """The user stopped the stream: close the socket, keep prices coming from REST polling."""
        if not self._stream_enabled:
            return
        self._stream_enabled = False
        log.info("⏸️ Feed stream stopped by the user; prices from REST polling")
        if self._wake is not None:
            self._wake.set()
        await self._close_socket()

    def start_stream(self) -> None:
        """Undo ``stop_stream``: connect again (``run()`` must be running)."""
        if self._stream_enabled:
            return
        self._stream_enabled = True
        log.info("▶️ Feed stream started by the user")
        if self._wake is not None:
            self._wake.set()

    async def _poll_while_stream_stopped(self) -> None:
        if self._poller is not None:
            self._set_state(
                POLLING, f"stream stopped by the user; prices from REST every {self._poller.interval:g}s"
            )
            self._start_polling(0.0)
        else:
            self._set_state(STOPPED, "stream stopped by the user")
        while not self._stream_enabled and not self._stopping:
            await self._sleep_unless_woken(3600.0)
        if not self._stopping:
            self._set_state(CONNECTING, "stream started by the user")

    async def _close_socket(self) -> None:
        ws = self._ws
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT_S)

    # --- REST fallback -----------------------------------------------------------------------

    def _start_polling(self, first_delay: float) -> None:
        poller = self._poller
        if poller is None or (self._poll_task is not None and not self._poll_task.done()):
            return
        self._poll_task = asyncio.create_task(
            poller.run(first_delay=first_delay, on_published=self._on_polled), name="feed-rest-poller"
        )

    def _stop_polling(self) -> None:
        task = self._poll_task
        if task is not None and not task.done():
            task.cancel()
        self._poll_task = None

    def _on_polled(self) -> None:
        if self._state in (CONNECTING, STALE, RECONNECTING):
            assert self._poller is not None
            self._set_state(POLLING, f"socket down; prices from REST every {self._poller.interval:g}s")

    def _refresh_after_connect(self, connected_ns: int) -> None:
        """Right after (re)subscribing, fill every product the stream has not ticked yet from REST."""
        poller = self._poller
        if poller is None or (self._refresh_task is not None and not self._refresh_task.done()):
            return
        self._refresh_task = asyncio.create_task(
            self._refresh(poller, connected_ns), name="feed-rest-refresh"
        )

    async def _refresh(self, poller: RestPricePoller, connected_ns: int) -> None:
        published = await poller.poll_once(only_older_than_ns=connected_ns)
        log.debug("Feed (re)connected: %d prices refreshed from REST", published)

    def _user_gap(self, reason: str) -> None:
        """Start a reconciliation, or queue one more if one is under way (never two at once)."""
        handler = self.on_user_gap
        if handler is None or USER_CHANNEL not in self.channels:
            return
        task = self._reconcile_task
        if task is not None and not task.done():
            self._reconcile_again = reason
            return
        self._reconcile_task = asyncio.create_task(
            self._reconcile(handler, reason), name="feed-user-reconcile"
        )

    async def _reconcile(self, handler: UserGapHandler, reason: str) -> None:
        while True:
            log.warning("🔍 User channel may have lost order updates (%s); reconciling over REST", reason)
            try:
                await handler(reason)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("❌ Order reconciliation after a user-channel gap failed")
            reason, self._reconcile_again = self._reconcile_again, ""
            if not reason:
                return

    async def _cancel_background(self) -> None:
        tasks = [t for t in (self._poll_task, self._refresh_task, self._reconcile_task) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._poll_task = self._refresh_task = self._reconcile_task = None

    # --- one connection --------------------------------------------------------------------

    async def _connection(self, session: aiohttp.ClientSession) -> tuple[bool, str]:
        """One connection's life. Returns (whether frames flowed, why it ended)."""
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            ws = await session.ws_connect(
                self.ws_url,
                decode_text=False,  # msgspec reads the UTF-8 bytes directly
                autoping=True,
                max_msg_size=MAX_FRAME_BYTES,
                timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT_S),
            )
        self._ws = ws
        self._stale = False
        self._last_heartbeat = None
        self._subscriptions = {}
        self.connected_ns = connected_ns = time.perf_counter_ns()
        watchdog = asyncio.create_task(self._watchdog(ws), name="feed-watchdog")
        try:
            if self._stopping or not self._stream_enabled:
                return False, "stop requested"
            for channel in self.channels:
                request = SubscribeRequest(
                    type="subscribe",
                    product_ids=list(self.products),
                    channel=channel,
                    jwt=self._jwt_factory() if self._jwt_factory is not None else None,
                )
                await ws.send_str(_encode(request).decode())
            log.debug(
                "Subscribed %s to %d products on %s",
                ", ".join(self.channels),
                len(self.products),
                self.ws_url,
            )
            self._refresh_after_connect(connected_ns)
            self._connections += 1
            if self._connections > 1:
                self._user_gap("reconnected: updates sent while disconnected were lost")
            return await self._consume(ws)
        finally:
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT_S)
            self._ws = None
            self._rate = 0.0

    async def _consume(self, ws: aiohttp.ClientWebSocketResponse[Literal[False]]) -> tuple[bool, str]:
        """The hot loop: frame → parse → bus, until the socket closes."""
        receive = ws.receive
        parse = parse_frame
        publish_tick = self._bus.publish_tick
        clock = time.perf_counter_ns
        debug_enabled = log.isEnabledFor
        text, binary = aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY
        tickers_kind, heartbeat_kind = FrameKind.TICKERS, FrameKind.HEARTBEAT
        last_seq = -1
        live = False
        while True:
            msg = await receive()
            msg_type = msg.type
            if msg_type is not text and msg_type is not binary:
                return live, self._close_reason(ws, msg_type, msg.data)
            now = clock()
            self._last_frame_ns = now
            self.messages_received += 1
            if not live:
                live = True
                self._stop_polling()
                self._set_state(LIVE, "receiving")
            try:
                frame = parse(msg.data, now)
            except MalformedFrame as exc:
                self.malformed += 1
                self._warn_once("malformed", "", "Malformed feed frame (%s): %.200r", exc, msg.data)
                continue

            seq = frame.sequence
            if seq is not None:
                if seq <= last_seq:
                    # Per Coinbase a lower number is a duplicate or a late frame: the newer
                    # ticker already superseded it.
                    self.out_of_order += 1
                    continue
                if seq != last_seq + 1:
                    self._on_sequence_gap(last_seq + 1, seq, frame)
                last_seq = seq

            kind = frame.kind
            if kind is tickers_kind:
                tickers = frame.tickers
                self.tickers += len(tickers)
                for tick in tickers:
                    publish_tick(tick)
                if debug_enabled(logging.DEBUG):
                    for tick in tickers:
                        log.debug("📈 Ticker update: %s @ $%s", tick.product_id, tick.price)
            elif kind is heartbeat_kind:
                self._on_heartbeat(frame)
            else:
                self._on_rare_frame(frame)

    def _on_sequence_gap(self, expected: int, got: int, frame: Frame) -> None:
        self.sequence_gaps += 1
        channel = _channel_of(frame)
        self._warn_once(
            "gap", "", "Feed sequence gap: expected %d, got %d (%d missed)", expected, got, got - expected
        )
        self._bus.publish("feed.gap", kind="sequence", expected=expected, got=got, channel=channel)
        # One counter spans every channel: any missed frame may have been an order update.
        self._user_gap(f"sequence gap {expected} → {got}")

    def _on_heartbeat(self, frame: Frame) -> None:
        self.heartbeats += 1
        counter = frame.heartbeat_counter
        previous = self._last_heartbeat
        if counter is not None:
            if previous is not None and counter > previous + 1:
                self.heartbeat_gaps += 1
                self._warn_once("heartbeat-gap", "", "Feed missed heartbeats: %d → %d", previous, counter)
                self._bus.publish(
                    "feed.gap", kind="heartbeat", expected=previous + 1, got=counter, channel="heartbeats"
                )
            self._last_heartbeat = counter

    def _on_rare_frame(self, frame: Frame) -> None:
        kind = frame.kind
        if kind is FrameKind.SUBSCRIPTIONS:
            self._subscriptions = frame.subscriptions
            subscribed = set(frame.subscriptions.get("ticker", ())) | set(
                frame.subscriptions.get("ticker_batch", ())
            )
            missing = [p for p in self.products if p not in subscribed]
            if "ticker" in self.channels and missing and "ticker" in frame.subscriptions:
                log.warning("Feed subscription lacks %s", ", ".join(missing))
            else:
                log.debug(
                    "Feed subscriptions: %s",
                    "; ".join(f"{c} ({len(p)})" for c, p in frame.subscriptions.items()),
                )
        elif frame.channel == USER_CHANNEL:
            # Order updates: the executor confirms orders over REST; the channel's value here is
            # its sequence numbers, which tell us when an update was lost (see _on_sequence_gap).
            self.user_frames += 1
        elif kind is FrameKind.ERROR:
            self.errors += 1
            self._last_error = frame.message
            log.error("❌ Feed error frame from %s: %s", self.ws_url, frame.message)
        else:
            self.unknown += 1
            self._warn_once("unknown", frame.channel, "Ignoring feed frames on channel %r", frame.channel)

    def _close_reason(
        self, ws: aiohttp.ClientWebSocketResponse[Literal[False]], msg_type: aiohttp.WSMsgType, data: object
    ) -> str:
        if self._stopping:
            return "stop requested"
        if self._stale:
            return f"no frame for {self._stale_after:g}s"
        if msg_type is aiohttp.WSMsgType.ERROR:
            return f"socket error: {_describe(data) if isinstance(data, BaseException) else data}"
        code = ws.close_code
        return f"server closed the connection (code {code})" if code is not None else "connection lost"

    async def _watchdog(self, ws: aiohttp.ClientWebSocketResponse[Literal[False]]) -> None:
        """Declares the stream stale after ``stale_after`` s of silence and keeps messages/s current."""
        tick = min(0.1, self._stale_after / 10)
        started = time.perf_counter_ns()
        rate_from_ns, rate_from_count = started, self.messages_received
        while not ws.closed:
            await asyncio.sleep(tick)
            now = time.perf_counter_ns()
            if now - rate_from_ns >= 1_000_000_000:
                self._rate = (self.messages_received - rate_from_count) * 1e9 / (now - rate_from_ns)
                rate_from_ns, rate_from_count = now, self.messages_received
            last = max(self._last_frame_ns, started)
            if now - last > self._stale_after * 1e9 and not self._stopping:
                self._stale = True
                self._rate = 0.0
                self._set_state(STALE, f"no frame for {self._stale_after:g}s")
                await ws.close()
                return

    # --- helpers -----------------------------------------------------------------------------

    def _set_state(self, state: str, reason: str) -> None:
        if state == self._state and state != RECONNECTING:
            return
        now = time.monotonic()
        if self._state == LIVE:
            self._live_seconds += now - self._state_since
        self._state_since = now
        since = time.time()
        self._state = state
        if state == LIVE:
            log.info("🔗 Feed live: %d products on %s", len(self.products), self.ws_url)
        elif state == STOPPED:
            log.info("🛑 Feed stopped (%s)", reason)
        elif state == STALE:
            log.warning("⚠️ Feed stale: %s on %s", reason, self.ws_url)
        elif state == RECONNECTING:
            log.info("🔄 Feed reconnecting: %s", reason)
        else:
            log.info("🔌 Feed %s: %s (%s)", state, self.ws_url, reason)
        self._bus.publish("feed.state", state=state, reason=reason, since=since)

    async def _sleep_unless_woken(self, delay: float) -> None:
        """Sleep ``delay`` s, or less if stop() or a stream start/stop comes first."""
        event = self._wake
        if event is None:
            await asyncio.sleep(delay)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), delay)
        event.clear()

    def _warn_once(self, category: str, key: str, message: str, *args: object) -> None:
        """First occurrence per (category, key) at WARNING, the rest at DEBUG: never a log flood."""
        if (category, key) in self._warned:
            log.debug(message, *args)
            return
        self._warned.add((category, key))
        log.warning(message + " (further ones are logged at DEBUG)", *args)


_KIND_CHANNELS: Final = {
    FrameKind.TICKERS: "ticker",
    FrameKind.HEARTBEAT: "heartbeats",
    FrameKind.SUBSCRIPTIONS: "subscriptions",
}


def _channel_of(frame: Frame) -> str:
    return frame.channel or _KIND_CHANNELS.get(frame.kind, "")


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
