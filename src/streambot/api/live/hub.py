"""EventHub: subscribes to the bus once and fans events and tickers out to WebSocket clients.

On the engine's path the hub costs one id, one append and one wake per event, and one mailbox
put per tick (the bus's latest-wins mailbox). Encoding, filtering and fan-out run in the hub's own
task; sending runs in each client's task. A recent-events ring serves resumes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from streambot.api.live.client import LiveClient
from streambot.api.live.frames import (
    RESET_FRAME,
    Channel,
    StoredEvent,
    dumps,
    event_bot_id,
    event_frame,
    hello_frame,
    ticker_frame,
)
from streambot.bus import Bus
from streambot.domain import Event, ProductId, Ticker

log = logging.getLogger(__name__)

StatusSource = Callable[[], Awaitable[dict[str, Any]]]

WAKE_SLICE = 4  # clients woken per turn of the event loop


class EventHub:
    def __init__(
        self,
        bus: Bus,
        *,
        ring_size: int = 10_000,
        ping_interval: float = 15.0,
        status_interval: float = 2.0,
        status_source: StatusSource | None = None,
    ) -> None:
        self._bus = bus
        self.ring: deque[StoredEvent] = deque(maxlen=ring_size)
        self._pending: deque[tuple[int, Event]] = deque()
        self._pending_wake = asyncio.Event()
        self.last_id = 0
        self.clients: set[LiveClient] = set()
        self._tick_waiters: dict[ProductId | None, list[LiveClient]] = {}
        self._ticker_frames: dict[ProductId, tuple[Ticker, str]] = {}
        self.ping_interval = ping_interval
        self.status_interval = status_interval
        self.status_source = status_source
        self.connections_total = 0
        self.cut_off_total = 0
        self._unsubscribe = bus.subscribe("", self._on_event)

    # --- the engine's side: as little as possible -------------------------------------------

    def _on_event(self, event: Event) -> None:
        self.last_id += 1
        self._pending.append((self.last_id, event))
        self._pending_wake.set()

    # --- clients ----------------------------------------------------------------------------

    @property
    def client_count(self) -> int:
        return len(self.clients)

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
        client.replay.append(hello_frame(client.channel, self.last_id))
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

    def ticker_frame(self, tick: Ticker) -> str:
        """Each tick is encoded once, however many clients send it."""
        cached = self._ticker_frames.get(tick.product_id)
        if cached is not None and cached[0] is tick:
            return cached[1]
        frame = ticker_frame(tick)
        self._ticker_frames[tick.product_id] = (tick, frame)
        return frame

    # --- the hub's own tasks ----------------------------------------------------------------

    def _fan_out(self) -> None:
        pending = self._pending
        while pending:
            event_id, event = pending.popleft()
            stored = StoredEvent(
                id=event_id,
                topic=event.topic,
                bot_id=event_bot_id(event.data),
                frame=event_frame(event_id, event.topic, event.ts, event.data),
            )
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
        await asyncio.gather(self._events(), self._ticks(), self._periodic())

    def close(self) -> None:
        self._unsubscribe()

    async def _events(self) -> None:
        while True:
            await self._pending_wake.wait()
            self._pending_wake.clear()
            self._fan_out()

    async def _ticks(self) -> None:
        mailbox = self._bus.tick_mailbox("live-push")
        waiters = self._tick_waiters
        try:
            while True:
                tick = await mailbox.get()
                for key in (tick.product_id, None):
                    woken = waiters.pop(key, None)
                    if not woken:
                        continue
                    # Woken all at once, hundreds of clients would send in one turn of the loop
                    # and a tick arriving meanwhile would wait for all of them. In slices, the
                    # evaluator gets a turn between slices, and the clients' windows stay spread.
                    for n, client in enumerate(woken, 1):
                        client.tickers_changed()
                        if not n % WAKE_SLICE:
                            await asyncio.sleep(0)
        finally:
            self._bus.remove_mailbox(mailbox)

    async def _periodic(self) -> None:
        next_ping = time.monotonic() + self.ping_interval
        while True:
            await asyncio.sleep(min(self.status_interval, self.ping_interval))
            status_clients = [c for c in self.clients if c.channel is Channel.STATUS]
            if status_clients:
                frame = await self.status_frame()
                if frame is not None:
                    for client in status_clients:
                        client.push_status(frame)
            if time.monotonic() >= next_ping:
                next_ping += self.ping_interval
                for client in tuple(self.clients):
                    client.ping()

    async def status_frame(self) -> str | None:
        """The status frame now: every 2 s, and for a client that just joined (no 2 s wait)."""
        if self.status_source is None:
            return None
        try:
            return dumps({"type": "status", **(await self.status_source())})
        except Exception:
            log.exception("❌ could not build the status frame")
            return None
