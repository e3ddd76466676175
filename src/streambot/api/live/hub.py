"""EventHub: subscribes to the bus once and fans events and tickers out to WebSocket clients.

On the engine's path the hub costs one id, one append and one wake per event, and one mailbox
put per tick (the bus's latest-wins mailbox). Encoding, filtering and fan-out run in the hub's own
task; sending runs in each client's task, and clients with tickers due get their turns one per
turn of the loop, so a tick never waits behind more than one client's send. A recent-events ring
serves resumes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from streambot.api.live.client import LiveClient
from streambot.api.live.frames import (
    LOG_TOPIC,
    RESET_FRAME,
    Channel,
    StoredEvent,
    dumps,
    event_bot_id,
    event_data,
    event_frame,
    hello_frame,
    log_frame,
    ticker_json,
    tickers_frame,
)
from streambot.bus import Bus
from streambot.clock import Clock
from streambot.domain import ProductId, Ticker
from streambot.events import Event
from streambot.observability.logging import LOG_RING, LogEntry, LogRing

log = logging.getLogger(__name__)

_FRAMES_KEPT = 64  # tickers frames kept for reuse: a few windows' worth
StatusSource = Callable[[], Awaitable[dict[str, Any]]]


class EventHub:
    def __init__(
        self,
        bus: Bus,
        *,
        clock: Clock,
        ring_size: int = 10_000,
        ping_interval: float = 15.0,
        status_source: StatusSource,
        status_interval: float = 2.0,
        log_ring: LogRing = LOG_RING,
    ) -> None:
        self._bus = bus
        self.clock = clock
        self.ticks_urgent = bus.ticks_urgent
        self.ring: deque[StoredEvent] = deque(maxlen=ring_size)
        self._pending: deque[tuple[int, Event]] = deque()
        self._pending_wake = asyncio.Event()
        self.last_id = 0
        self.clients: set[LiveClient] = set()
        self._tick_waiters: dict[ProductId | None, list[LiveClient]] = {}
        self._due: deque[LiveClient] = deque()  # clients with tickers to send, woken one a turn
        self._due_wake = asyncio.Event()
        self._ticker_items: dict[ProductId, tuple[Ticker, bytes]] = {}
        self._ticker_frames: dict[tuple[bytes, ...], str] = {}
        self.ping_interval = ping_interval
        self.status_interval = status_interval
        self.status_source = status_source
        self.connections_total = 0
        self.cut_off_total = 0
        self.unencodable_events = 0
        self._unsubscribe = bus.subscribe("", self._on_event)
        self.log_ring = log_ring
        self._logs: deque[LogEntry] = deque(maxlen=1000)  # a burst beyond this is read over REST
        self._logs_wake = asyncio.Event()

    # --- the engine's side: as little as possible -------------------------------------------

    def _on_event(self, event: Event) -> None:
        self.last_id += 1
        self._pending.append((self.last_id, event))
        self._pending_wake.set()

    # --- clients ----------------------------------------------------------------------------

    @property
    def client_count(self) -> int:
        return len(self.clients)

    def queue_peak(self) -> int:
        """The deepest any connected client's event queue has been."""
        return max((client.queue_peak for client in self.clients), default=0)

    def clients_by_channel(self) -> dict[str, int]:
        counts = {c.value: 0 for c in Channel}
        for client in self.clients:
            counts[client.channel.value] += 1
        return counts

    def attach(self, client: LiveClient, last_event_id: int | None) -> None:
        """Register a client: hello, then a reset or the missed events, then live events.

        Synchronous on purpose: nothing can be published between choosing what to replay and
        joining the live fan-out, so the client sees every id exactly once.
        """
        self._fan_out()
        client.replay.append(hello_frame(client.channel, self.last_id, self.clock.time()))
        if last_event_id is not None:
            oldest = self.ring[0].id if self.ring else self.last_id + 1
            # Older than the ring, or from before a restart (ids start again at 1): refetch.
            if last_event_id > self.last_id or last_event_id < oldest - 1:
                client.replay.append(RESET_FRAME)
            else:
                for stored in self.ring:
                    if stored.id > last_event_id and client.accepts(stored):
                        client.replay.append(stored.frame)
        self.clients.add(client)
        self.connections_total += 1

    def detach(self, client: LiveClient) -> None:
        self.clients.discard(client)

    def want_ticks(self, client: LiveClient) -> None:
        """Wake ``client`` on the next tick of its product(s) (once; it asks again)."""
        key: ProductId | None = None
        if client.products is not None and len(client.products) == 1:
            key = next(iter(client.products))
        self._tick_waiters.setdefault(key, []).append(client)

    def ticker_due(self, client: LiveClient) -> None:
        """Queue ``client`` for a turn to send its tickers (see ``_turns``)."""
        if not client.turn_queued:
            client.turn_queued = True
            self._due.append(client)
            self._due_wake.set()

    def ticker_item(self, tick: Ticker) -> bytes:
        """Each tick is encoded once, however many clients send it."""
        cached = self._ticker_items.get(tick.product_id)
        if cached is not None and cached[0] is tick:
            return cached[1]
        item = ticker_json(tick)
        self._ticker_items[tick.product_id] = (tick, item)
        return item

    def tickers_frame(self, items: list[bytes]) -> str:
        """A window's frame, built once for every client whose window holds the same tickers
        (at hundreds of market clients, most windows do)."""
        key = tuple(items)
        frame = self._ticker_frames.get(key)
        if frame is None:
            if len(self._ticker_frames) >= _FRAMES_KEPT:
                self._ticker_frames.clear()  # the old ones hold prices no window sends again
            frame = self._ticker_frames[key] = tickers_frame(items)
        return frame

    # --- the hub's own tasks ----------------------------------------------------------------

    def _fan_out(self) -> None:
        pending = self._pending
        while pending:
            event_id, event = pending.popleft()
            try:
                topic, data = event.topic, event_data(event)
                stored = StoredEvent(
                    id=event_id,
                    topic=topic,
                    bot_id=event_bot_id(data),
                    frame=event_frame(event_id, topic, event.ts, data),
                )
            except Exception:
                # One event that cannot be encoded (say an integer beyond 64 bits) is skipped;
                # it must never end the push for every client.
                self.unencodable_events += 1
                log.exception("❌ live push: could not encode a %s event; skipped", type(event).__name__)
                continue
            self.ring.append(stored)
            for client in tuple(self.clients):
                if client.accepts(stored) and not client.offer(stored):
                    self._cut_off(client)

    def _cut_off(self, client: LiveClient) -> None:
        self.clients.discard(client)
        self.cut_off_total += 1
        log.warning(
            "🔗 WebSocket client %s on %s fell %d events behind: closing it (4408); it can resume",
            client.peer,
            client.channel.value,
            client.queue_size,
        )

    async def run(self) -> None:
        # A task group: if one of the four dies, the others end with it, so the supervisor's
        # restart does not leave a second copy of them running.
        async with asyncio.TaskGroup() as group:
            for work, name in (
                (self._events(), "events"),
                (self._ticks(), "ticks"),
                (self._turns(), "turns"),
                (self._periodic(), "periodic"),
                (self._log_records(), "logs"),
            ):
                group.create_task(work, name=f"live-push-{name}")

    def close(self) -> None:
        self._unsubscribe()

    async def _events(self) -> None:
        while True:
            await self._pending_wake.wait()
            self._pending_wake.clear()
            self._fan_out()

    async def _log_records(self) -> None:
        """Push each new log record to the logs channel. Records arrive from any thread, so the
        ring's listener only hands them to this loop; a record logged while pushing (a cut-off
        client, say) is pushed on the next turn, never recursively."""
        loop = asyncio.get_running_loop()

        def arrived(entry: LogEntry) -> None:
            loop.call_soon_threadsafe(self._log_arrived, entry)

        stop_listening = self.log_ring.listen(arrived)
        try:
            while True:
                await self._logs_wake.wait()
                self._logs_wake.clear()
                while self._logs:
                    entry = self._logs.popleft()
                    stored = StoredEvent(id=entry.id, topic=LOG_TOPIC, bot_id=None, frame=log_frame(entry))
                    for client in tuple(self.clients):
                        if client.channel is Channel.LOGS and not client.offer(stored):
                            self._cut_off(client)
        finally:
            stop_listening()

    def _log_arrived(self, entry: LogEntry) -> None:
        if any(c.channel is Channel.LOGS for c in self.clients):
            self._logs.append(entry)
            self._logs_wake.set()

    async def _ticks(self) -> None:
        mailbox = self._bus.tick_mailbox("live-push")
        waiters = self._tick_waiters
        try:
            while True:
                tick = await mailbox.get()
                for key in (tick.product_id, None):
                    for client in waiters.pop(key, ()):
                        client.tickers_changed()
        finally:
            self._bus.remove_mailbox(mailbox)

    async def _turns(self) -> None:
        """Wake one client with tickers due per turn of the event loop.

        A ticker send costs a socket write (~50 µs on loopback, most of it in the kernel). Woken
        together, say by window timers that fall due in the same turn, a dozen clients would
        send back to back and a tick arriving meanwhile would wait for all of them before the
        evaluator saw it. One a turn, a tick waits for one client's send at most; at hundreds of
        clients, each still gets its turn well within its window.
        """
        due = self._due
        while True:
            await self._due_wake.wait()
            self._due_wake.clear()
            while due:
                client = due.popleft()
                client.turn_queued = False
                client.wake.set()
                await asyncio.sleep(0)

    async def _periodic(self) -> None:
        clock = self.clock
        next_ping = clock.monotonic() + self.ping_interval
        while True:
            await clock.sleep(min(self.status_interval, self.ping_interval))
            status_clients = [c for c in self.clients if c.channel is Channel.STATUS]
            if status_clients:
                frame = await self.status_frame()
                if frame is not None:
                    for client in status_clients:
                        client.push_status(frame)
            if clock.monotonic() >= next_ping:
                next_ping += self.ping_interval
                for client in tuple(self.clients):
                    client.ping()

    async def status_frame(self) -> str | None:
        """The status frame now: every 2 s, and for a client that just joined (no 2 s wait)."""
        try:
            return dumps({"type": "status", **(await self.status_source())})
        except Exception:
            log.exception("❌ could not build the status frame")
            return None
