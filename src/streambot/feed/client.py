"""The market-data feed: one Coinbase WebSocket connection, ticks onto the bus, reconnect forever.

The heartbeats channel keeps the socket alive and tells us quickly when the stream has gone quiet:
no frame for ``stale_after`` seconds (``StreamWatchdog``) → close and reconnect after a
``ReconnectBackoff`` delay. Every state change is a ``FeedStateChanged`` event
(``FeedStateMachine``); sequence gaps and heartbeat-counter jumps are ``FeedGapDetected`` events
(``GapDetector``), and with the ``user`` channel subscribed a gap (or a reconnect) calls
``on_user_gap`` so the trading engine reconciles its orders over REST.

While the socket is down (and while the user has stopped the stream) prices come from REST best
bid/ask polling (state ``polling``), and every new connection refreshes them from REST at once so
a product that trades rarely does not wait for its next ticker.

The frame handler is the hot path. The transport (``feed.transport``: picows) calls it for every
frame as the bytes arrive, with no future or task per frame; it decodes the frame in place (no
copy), does no per-frame allocation beyond what the decode returns, takes one ``perf_counter``
reading per socket read (the ticks' receive stamp, for latency), checks the prices and the
sequence of every frame, and keeps each product's last ticker of the read; at the read's end
(the transport says when) those are completed into Tickers and reach the price board and the bus
in one go, which leaves every latest-wins mailbox as ticker-by-ticker publishing would (no
consumer runs between a read's frames), and the read's frames are counted. It never logs per tick
at INFO, and leaves staleness and the messages/s rate to the watchdog, which reads the feed's
clock and the frame counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from streambot.bus import Bus, PriceBoard
from streambot.clock import Clock
from streambot.domain import FeedState, Ticker
from streambot.feed.backoff import ReconnectBackoff
from streambot.feed.connection import subscribe
from streambot.feed.fallback import RestFallback
from streambot.feed.gaps import GapDetector
from streambot.feed.log_once import OnceLogger
from streambot.feed.messages import TickerFrame
from streambot.feed.parse import (
    FeedFrame,
    FrameKind,
    MalformedFrame,
    complete_usual_ticker,
    decode_server_frame,
    read_frame,
)
from streambot.feed.poller import PriceSource, RestPricePoller
from streambot.feed.recorder import FeedRecorder
from streambot.feed.state import FeedStateMachine, FeedStatus
from streambot.feed.transport import TRANSPORT_ERRORS, FeedTransport, connect
from streambot.feed.user_gaps import UserGapHandler, UserGapReconciler
from streambot.feed.watchdog import StreamWatchdog

log = logging.getLogger(__name__)

STOP_GRACE_S: Final = 2.0
POLL_INTERVAL_S: Final = 5.0
POLL_GRACE_S: Final = 1.0  # a socket back within this long needs no REST poll
USER_CHANNEL: Final = "user"
# A frame numbered at most this far below the last one is a duplicate or a late frame and is
# dropped; further below, the numbering started again (or the last number was bogus): resync.
REORDER_WINDOW: Final = 100
# This many frames in a row numbered below the last one mean the last number was bogus: resync.
MAX_DROPPED_IN_A_ROW: Final = 5

__all__ = ["Connector", "FeedClient", "FeedStatus", "UserGapHandler"]

Connector = Callable[[str], Awaitable[FeedTransport]]
"""Opens the feed's WebSocket at a URL (``feed.transport.connect``)."""


class FeedClient:
    """Consumes Coinbase market data over one WebSocket and publishes every ticker on the bus."""

    def __init__(
        self,
        ws_url: str,
        products: Sequence[str],
        bus: Bus,
        *,
        board: PriceBoard,
        clock: Clock,
        channels: Sequence[str] = ("ticker", "heartbeats"),
        jwt_factory: Callable[[], str] | None = None,
        stale_after: float = 3.0,
        connector: Connector = connect,
        prices: PriceSource | None = None,
        poll_interval: float = POLL_INTERVAL_S,
        poll_grace: float = POLL_GRACE_S,
        on_user_gap: UserGapHandler | None = None,
        backoff: ReconnectBackoff | None = None,
        recorder: FeedRecorder | None = None,
    ) -> None:
        if not products:
            raise ValueError("FeedClient needs at least one product")
        self.ws_url = ws_url
        self.products: tuple[str, ...] = tuple(dict.fromkeys(products))
        self.channels: tuple[str, ...] = tuple(dict.fromkeys(channels))
        self._bus = bus
        self._board = board
        self._clock = clock
        self._jwt_factory = jwt_factory
        self._watchdog = StreamWatchdog(clock, stale_after, lambda: self.messages_received)
        self._connector = connector
        self._backoff = backoff if backoff is not None else ReconnectBackoff()
        self._fallback = (
            RestFallback(
                RestPricePoller(prices, self.products, bus, board=board, clock=clock, interval=poll_interval)
            )
            if prices
            else None
        )
        self._poll_grace = poll_grace
        # Only with the user channel subscribed can an order update be lost on this socket.
        self._user_gaps = (
            UserGapReconciler(on_user_gap)
            if on_user_gap is not None and USER_CHANNEL in self.channels
            else None
        )
        # Every frame received, raw, with its receive time (STREAMBOT_RECORD_DIR, `streambot record`).
        self._recorder = recorder
        self._stream_enabled = True
        self._wake: asyncio.Event | None = None

        self._machine = FeedStateMachine(bus, clock, where=ws_url, products=len(self.products))
        self._running = False
        self._stopping = False
        self._run_task: asyncio.Task[Any] | None = None
        self._ws: FeedTransport | None = None
        self._stale = False
        # The frame handler's per-connection state (see _on_frame).
        self._live = False
        self._last_seq = -1
        self._dropped_in_a_row = 0
        # The current socket read's tickers, handed on at its end (_on_read_end): product → [its
        # last usual frame, how many it had], in the order the products first came. One list per
        # product and read, so a frame costs one dict lookup (a frame dict and a count dict took
        # three, a good part of the hot path).
        self._read_runs: dict[str, list[Any]] = {}
        self._read_ns = 0  # the current read's receive stamp (perf_counter_ns); 0: none yet
        self._recording = recorder.record if recorder is not None else None
        self._debug = False
        self._plain = False  # live, neither recording nor logging every tick: see _on_frame

        self._warn = OnceLogger(log)
        self._gaps = GapDetector(bus, self._warn)
        self.messages_received = 0
        self.tickers = 0  # tickers handed on to the board and the bus (dropped, refused: not)
        self.malformed = 0
        self.unknown = 0
        self.errors = 0
        self.out_of_order = 0
        self.invalid_tickers = 0
        self.reconnects = 0
        self.user_frames = 0
        self._connections = 0  # subscribed connections since construction
        self.connected_ns = 0  # perf_counter_ns when the current/last socket opened
        self._last_error = ""
        self._subscriptions: dict[str, list[str]] = {}

    # --- public --------------------------------------------------------------------------

    @property
    def state(self) -> FeedState:
        return self._machine.state

    @property
    def connected(self) -> bool:
        ws = self._ws
        return ws is not None and not ws.closed

    @property
    def uptime_ratio(self) -> float:
        """Share of the time since ``run()`` started that the feed was live (1.0 before it ran)."""
        return self._machine.uptime_ratio

    @property
    def heartbeats(self) -> int:
        return self._gaps.heartbeats

    @property
    def sequence_gaps(self) -> int:
        return self._gaps.sequence_gaps

    @property
    def heartbeat_gaps(self) -> int:
        return self._gaps.heartbeat_gaps

    def mirror(self, state: FeedState) -> None:
        """A cluster process without the WebSocket: the feed process's state, as its events tell
        (``FeedStateChanged`` over Redis), for the status, the health check and the alerts."""
        if not self._running:
            self._machine.state = state

    def status(self) -> FeedStatus:
        poller = self._fallback.poller if self._fallback is not None else None
        age = self._watchdog.last_frame_age if self.messages_received else None
        return FeedStatus(
            state=self.state,
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
            invalid_tickers=self.invalid_tickers + (poller.books_rejected if poller else 0),
            sequence_resyncs=self._gaps.sequence_resyncs,
            heartbeat_gaps=self.heartbeat_gaps,
            reconnects=self.reconnects,
            polls=poller.polls if poller else 0,
            polled_tickers=poller.tickers_published if poller else 0,
            uptime_ratio=round(self.uptime_ratio, 4),
            messages_per_second=round(self._watchdog.rate, 1),
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
        self._machine.run_started()
        backoff = self._backoff
        backoff.reset()
        try:
            self._set_state(FeedState.CONNECTING, "start")
            while not self._stopping:
                if not self._stream_enabled:
                    await self._poll_while_stream_stopped()
                    backoff.reset()
                    continue
                went_live = False
                try:
                    went_live, reason = await self._connection()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    reason = _describe(exc)
                    if not isinstance(exc, TRANSPORT_ERRORS):
                        log.exception("❌ Feed connection failed unexpectedly")
                if self._stopping or not self._stream_enabled:
                    continue
                self._last_error = reason
                delay = backoff.next_delay(went_live=went_live)
                if self.state is FeedState.POLLING:
                    # Prices flow from REST meanwhile; the state stays "polling", not flapping.
                    log.info("🔄 Feed still down (%s); retrying in %.1fs", reason, delay)
                else:
                    self._set_state(FeedState.RECONNECTING, f"{reason}; retrying in {delay:.1f}s")
                self._start_polling(self._poll_grace)
                await self._sleep_unless_woken(delay)
                if not self._stopping and self._stream_enabled:
                    self.reconnects += 1
        finally:
            self._running = False
            self._ws = None
            await self._cancel_background()
            self._set_state(FeedState.STOPPED, "stop requested" if self._stopping else "run ended")

    async def stop(self) -> None:
        """Close the socket and end ``run()``; returns within a couple of seconds at worst."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
        if self._ws is not None:
            await self._ws.close()
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
        if self._ws is not None:
            await self._ws.close()

    def start_stream(self) -> None:
        """Undo ``stop_stream``: connect again (``run()`` must be running)."""
        if self._stream_enabled:
            return
        self._stream_enabled = True
        log.info("▶️ Feed stream started by the user")
        if self._wake is not None:
            self._wake.set()

    async def _poll_while_stream_stopped(self) -> None:
        if self._fallback is not None:
            self._set_state(
                FeedState.POLLING,
                f"stream stopped by the user; prices from REST every {self._fallback.interval:g}s",
            )
            self._start_polling(0.0)
        else:
            self._set_state(FeedState.STOPPED, "stream stopped by the user")
        while not self._stream_enabled and not self._stopping:
            await self._sleep_unless_woken(3600.0)
        if not self._stopping:
            self._set_state(FeedState.CONNECTING, "stream started by the user")

    # --- REST fallback -----------------------------------------------------------------------

    def _start_polling(self, first_delay: float) -> None:
        if self._fallback is not None:
            self._fallback.start_polling(first_delay, self._on_polled)

    def _on_polled(self) -> None:
        if self.state in (FeedState.CONNECTING, FeedState.STALE, FeedState.RECONNECTING):
            assert self._fallback is not None
            self._set_state(
                FeedState.POLLING, f"socket down; prices from REST every {self._fallback.interval:g}s"
            )

    def _user_gap(self, reason: str) -> None:
        if self._user_gaps is not None:
            self._user_gaps.trigger(reason)

    async def _cancel_background(self) -> None:
        if self._fallback is not None:
            await self._fallback.close()
        if self._user_gaps is not None:
            await self._user_gaps.close()

    # --- one connection --------------------------------------------------------------------

    async def _connection(self) -> tuple[bool, str]:
        """One connection's life. Returns (whether frames flowed, why it ended)."""
        ws = await self._connector(self.ws_url)
        self._ws = ws
        self._stale = False
        self._gaps.new_connection()
        self._subscriptions = {}
        self.connected_ns = connected_ns = time.perf_counter_ns()
        watchdog = asyncio.create_task(self._watch(ws), name="feed-watchdog")
        try:
            if self._stopping or not self._stream_enabled:
                return False, "stop requested"
            await subscribe(ws, self.products, self.channels, self._jwt_factory)
            if self._fallback is not None:
                self._fallback.refresh_after_connect(connected_ns)
            self._connections += 1
            if self._connections > 1:
                self._user_gap("reconnected: updates sent while disconnected were lost")
            self._live = False
            self._last_seq = -1
            self._dropped_in_a_row = 0
            self._bind_hot_path()
            ended = await ws.receive(self._on_frame, self._on_read_end)
            return self._live, self._close_reason(ended)
        finally:
            self._on_read_end()  # a read cut short by an error: its valid tickers still count
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            await ws.close()
            self._ws = None
            self._watchdog.rate = 0.0

    async def _watch(self, ws: FeedTransport) -> None:
        """Close the socket when the stream goes silent; the receive then ends."""
        silence = await self._watchdog.watch(lambda: not ws.closed)
        if silence and not self._stopping:
            self._stale = True
            self._set_state(FeedState.STALE, f"no frame for {self._watchdog.stale_after:g}s")
            await ws.close()

    def _bind_hot_path(self) -> None:
        """What the frame handler needs, looked up once per connection rather than per frame.

        Whether DEBUG logging is on is read here too: a level changed while connected applies
        from the next connection."""
        self._recording = self._recorder.record if self._recorder is not None else None
        self._debug = log.isEnabledFor(logging.DEBUG)
        # The short path is taken once the connection is live (the first frame takes the other).
        self._plain = False

    def _on_frame(self, data: memoryview) -> None:
        """The hot path, called by the transport for every frame: parse → price board and bus.

        ``data`` is the transport's buffer, valid only during this call: parsed in place, copied
        only for the recorder or a log line. The usual frame (one valid ticker, numbered one
        above the last, no recorder, no DEBUG log) takes the few lines below: decoded, checked
        and kept as its product's latest of the read, its Ticker completed only if it is still
        the latest at the read's end (``_on_read_end``). Any other frame goes to
        ``_other_frame``, which reads it with ``read_frame`` (a second decode, for the rare
        frame: malformed, heartbeat, out of sequence, refused price...)."""
        if self._plain:
            try:
                msg = _decode(data)
                if type(msg) is TickerFrame:
                    # The usual frame: one event of one ticker that carries its bid and ask (more
                    # events or tickers: ValueError; a bid or ask missing: TypeError), valid as
                    # ``parse.valid_quote`` says, numbered one above the last (no number: a
                    # TypeError). Written out here to save a call per frame, in an ``if``, where
                    # each comparison is the interpreter's float fast path; a difference, not
                    # ``last + 1``, which would make an int per frame (1 is a cached one).
                    (event,) = msg.events
                    (tick,) = event.tickers
                    number: int = msg.sequence_num  # type: ignore[assignment]
                    if (
                        number - self._last_seq == 1
                        and 0.0 < tick.price < _INF
                        and 0.0 < tick.best_bid <= tick.best_ask < _INF
                    ):
                        # Nothing below raises (short of memory): the frame is taken once.
                        self._last_seq = number
                        self._dropped_in_a_row = 0
                        # Kept for the read's end: only each product's last ticker of a read is
                        # handed on, and the frames are counted there (messages_received too).
                        product = tick.product_id
                        run = self._read_runs.get(product)
                        if run is not None:
                            run[0] = msg
                            run[1] += 1
                        else:
                            self._read_runs[product] = [msg, 1]
                            # One receive stamp per socket read, taken by its first frame: its
                            # frames arrived together (and one clock read per frame was a tenth
                            # of what the rest of the hot path costs).
                            if not self._read_ns:
                                self._read_ns = _stamp()
                        return
            except Exception:
                pass  # read_frame tells what it is
        self._other_frame(data)

    def _on_read_end(self) -> None:
        """The socket read's last frame is handled: its tickers go to the board and the bus.

        No consumer can run between the frames of one read, so handing on each product's last
        ticker of the read (and counting the others as superseded, as a mailbox would have)
        leaves every board and mailbox as ticker-by-ticker publishing would; at a hundred
        thousand ticks a second a read carries hundreds of them, in the quiet times one. Nothing
        reads the superseded ones (their prices were checked, their numbers too), so only the
        handed-on ones are completed into Tickers."""
        received_ns = self._read_ns
        self._read_ns = 0
        runs = self._read_runs
        if not runs:
            return
        if len(runs) == 1:  # in quiet times a read carries one ticker
            product, (msg, count) = runs.popitem()
            tick = _complete(msg, received_ns)
            if count == 1:
                self.messages_received += 1
                self.tickers += 1
                self._board.record(tick)
                self._bus.publish_tick(tick)
                return
            latest = {product: tick}
            counts = {product: count}
        else:
            latest = {product: _complete(run[0], received_ns) for product, run in runs.items()}
            counts = {product: run[1] for product, run in runs.items()}
            runs.clear()
        count = sum(counts.values())  # counted once a read, not once a frame
        self.messages_received += count
        self.tickers += count
        self._board.record_latest(latest, counts)
        self._bus.publish_latest(latest, counts)

    def _malformed(self, data: memoryview, exc: MalformedFrame) -> None:
        if not self._live:
            self._go_live()
        self._on_read_end()  # what came before is handed on first, in order
        raw = bytes(data)
        if self._recording is not None:
            self._recording(raw, None)
        self.malformed += 1
        self._warn.warn("malformed", "", "Malformed feed frame (%s): %.200r", exc, raw)

    def _other_frame(self, data: memoryview) -> None:
        """Every frame but the usual one: anything recorded or logged, and every FeedFrame."""
        self.messages_received += 1
        received_ns = self._read_ns
        if not received_ns:
            received_ns = self._read_ns = _stamp()
        try:
            frame = read_frame(data, received_ns)
        except MalformedFrame as exc:
            self._malformed(data, exc)
            return
        if not self._live:
            self._go_live()
        self._on_read_end()  # what came before is handed on first, in order
        if self._recording is not None:
            # After the parse, so the recorder takes the products from it instead of parsing again.
            self._recording(bytes(data), frame)

        if type(frame) is Ticker:
            number = frame.sequence
            if number >= 0:
                last_seq = self._last_seq
                if number != last_seq + 1 and not self._sequence_break(frame, number, last_seq):
                    return
                self._last_seq = number
                self._dropped_in_a_row = 0
            self.tickers += 1
            self._board.record(frame)
            self._bus.publish_tick(frame)
            if self._debug:
                log.debug("📈 Ticker update: %s @ $%s", frame.product_id, frame.price)
            return
        assert type(frame) is FeedFrame
        seq = frame.sequence
        if seq is not None:
            last_seq = self._last_seq
            if seq != last_seq + 1 and not self._sequence_break(frame, seq, last_seq):
                return
            self._last_seq = seq
            self._dropped_in_a_row = 0

        kind = frame.kind
        if kind is _TICKERS:
            if frame.rejected:
                self._rejected(frame)
            tickers = frame.tickers
            self.tickers += len(tickers)
            record = self._board.record
            publish_tick = self._bus.publish_tick
            for tick in tickers:
                record(tick)
                publish_tick(tick)
            if self._debug:
                for tick in tickers:
                    log.debug("📈 Ticker update: %s @ $%s", tick.product_id, tick.price)
        elif kind is _HEARTBEAT:
            self._gaps.heartbeat(frame.heartbeat_counter)
        else:
            self._on_rare_frame(frame)

    def _go_live(self) -> None:
        self._on_read_end()
        self._live = True
        self._plain = self._recording is None and not self._debug
        if self._fallback is not None:
            self._fallback.stop_polling()
        self._set_state(FeedState.LIVE, "receiving")

    def _sequence_break(self, frame: Ticker | FeedFrame, seq: int, last_seq: int) -> bool:
        """A frame not numbered one above the last: False to drop it, True to take it."""
        self._on_read_end()  # the tickers before it reach the bus before any gap event
        if seq <= last_seq:
            if last_seq - seq <= REORDER_WINDOW and self._dropped_in_a_row < MAX_DROPPED_IN_A_ROW:
                # Per Coinbase a lower number is a duplicate or a late frame: the newer ticker
                # already superseded it.
                self.out_of_order += 1
                self._dropped_in_a_row += 1
                return False
            # Far below, or frame after frame: the last number was bogus or the server numbers
            # afresh. Never freeze on it: this frame is the new baseline.
            self._gaps.sequence_resync(last_seq, seq, _channel_of(frame))
            self._user_gap(f"sequence resync {last_seq} → {seq}")
        else:
            self._gaps.sequence_gap(last_seq + 1, seq, _channel_of(frame))
            # One counter spans every channel: any missed frame may have been an order update.
            self._user_gap(f"sequence gap {last_seq + 1} → {seq}")
        return True

    def _rejected(self, frame: FeedFrame) -> None:
        self.invalid_tickers += frame.rejected
        self._warn.warn("invalid-ticker", "", "Dropped invalid ticker(s): %s", frame.rejected_reason)

    def _on_rare_frame(self, frame: FeedFrame) -> None:
        kind = frame.kind
        if kind is FrameKind.SUBSCRIPTIONS:
            self._subscriptions = dict(frame.subscriptions)
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
            # its sequence numbers, which tell us when an update was lost (see the gap check).
            self.user_frames += 1
        elif kind is FrameKind.ERROR:
            self.errors += 1
            self._last_error = frame.message
            log.error("❌ Feed error frame from %s: %s", self.ws_url, frame.message)
        else:
            self.unknown += 1
            self._warn.warn("unknown", frame.channel, "Ignoring feed frames on channel %r", frame.channel)

    def _close_reason(self, ended: str) -> str:
        if self._stopping:
            return "stop requested"
        if self._stale:
            return f"no frame for {self._watchdog.stale_after:g}s"
        return ended

    # --- helpers -----------------------------------------------------------------------------

    def _set_state(self, state: FeedState, reason: str) -> None:
        self._machine.move(state, reason)

    async def _sleep_unless_woken(self, delay: float) -> None:
        """Sleep ``delay`` s on the feed's clock, or less if stop() or a stream start/stop comes first."""
        event = self._wake
        if event is None:
            await self._clock.sleep(delay)
            return
        if not event.is_set():
            sleeping = asyncio.ensure_future(self._clock.sleep(delay))
            woken = asyncio.ensure_future(event.wait())
            try:
                await asyncio.wait({sleeping, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (sleeping, woken):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        event.clear()


_TICKERS: Final = FrameKind.TICKERS
_HEARTBEAT: Final = FrameKind.HEARTBEAT
_stamp = time.perf_counter_ns  # the ticks' receive time, for latency figures only
_decode: Final = decode_server_frame
_complete: Final = complete_usual_ticker
_INF: Final = math.inf

_KIND_CHANNELS: Final = {
    FrameKind.TICKERS: "ticker",
    FrameKind.HEARTBEAT: "heartbeats",
    FrameKind.SUBSCRIPTIONS: "subscriptions",
}


def _channel_of(frame: Ticker | FeedFrame) -> str:
    if type(frame) is Ticker:
        return "ticker"  # read_frame returns a lone Ticker for ticker frames only
    assert type(frame) is FeedFrame
    return frame.channel or _KIND_CHANNELS.get(frame.kind, "")


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
