"""One connected WebSocket client: its bounded event queue, its ticker window, its sender loop.

Nothing here is awaited by the engine. The hub only appends to ``queue`` and sets ``wake``; the
client's own task does the sending, at the pace its socket allows. A client whose queue reaches
its bound is marked too slow and its task cancelled (even mid-send on a full socket buffer): the
endpoint then closes it with 4408 and it resumes from its last event id.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from streambot.api.live.frames import (
    CHANNEL_TOPICS,
    PING_FRAME,
    Channel,
    StoredEvent,
    topic_matches,
)
from streambot.clock import Clock
from streambot.domain import ProductId, Ticker

Send = Callable[[str], Awaitable[None]]


class ClientScheduler(Protocol):
    """What a client needs of the hub that serves it (the hub, ``EventHub``, is one).

    The client names this protocol rather than the hub, so the hub can import the client without
    the two modules importing each other.
    """

    @property
    def clock(self) -> Clock: ...

    def ticks_urgent(self) -> bool:
        """Whether a tick waits for a consumer that decides on trades."""
        ...

    def ticker_due(self, client: LiveClient) -> None: ...

    def want_ticks(self, client: LiveClient) -> None: ...

    def ticker_item(self, tick: Ticker) -> bytes: ...

    def tickers_frame(self, items: list[bytes]) -> str: ...


class LiveClient:
    def __init__(
        self,
        hub: ClientScheduler,
        channel: Channel,
        *,
        queue_size: int,
        max_rate: float = 4.0,
        bot_id: int | None = None,
        products: frozenset[ProductId] | None = None,
        peer: str = "",
    ) -> None:
        self.hub = hub
        self.channel = channel
        self.bot_id = bot_id
        self.peer = peer
        self._topics = CHANNEL_TOPICS[channel]
        # Tickers: market wants every product (None), a bot's channel its own product.
        self.wants_tickers = channel in {Channel.MARKET, Channel.BOTS}
        self.products = products
        self.interval = 1.0 / max_rate
        self.queue_size = queue_size
        self.replay: deque[str] = deque()  # hello, reset and replayed events: sent first, unbounded
        self.queue: deque[str] = deque()
        self.queue_peak = 0  # the deepest the queue has been (a figure: how near the bound it came)
        self.wake = asyncio.Event()
        self.too_slow = False
        self.ticker_dirty = False
        self.turn_queued = False
        self._hold_until = 0.0
        self._last_sent: dict[ProductId, Ticker] = {}
        self.status_frame: str | None = None  # latest-wins: an old status is worthless
        self.ping_due = False
        self.task: asyncio.Task[None] | None = None

    # --- called by the hub (synchronous, cheap) ----------------------------------------------

    def accepts(self, event: StoredEvent) -> bool:
        if not topic_matches(event.topic, self._topics):
            return False
        if self.channel is Channel.BOTS:
            # The bot's own events, plus account-wide ones (an account halt stops this bot too).
            return event.bot_id is None or event.bot_id == self.bot_id
        return True

    def offer(self, event: StoredEvent) -> bool:
        """Queue an event; False (and the client is cut off) when the queue is full."""
        if self.too_slow:
            return False
        if len(self.queue) >= self.queue_size:
            self.cut_off()
            return False
        queue = self.queue
        queue.append(event.frame)
        if len(queue) > self.queue_peak:
            self.queue_peak = len(queue)
        self.wake.set()
        return True

    def cut_off(self) -> None:
        self.too_slow = True
        self.queue.clear()  # the client will replay from the ring; holding these helps nobody
        self.replay.clear()
        self.wake.set()
        if self.task is not None:
            self.task.cancel()  # it may be stuck in send() on a socket whose buffer is full

    def tickers_changed(self) -> None:
        self.ticker_dirty = True
        self.hub.ticker_due(self)  # the hub wakes us in our turn

    def push_status(self, frame: str) -> None:
        self.status_frame = frame
        self.wake.set()

    def ping(self) -> None:
        self.ping_due = True
        self.wake.set()

    # --- the client's own task --------------------------------------------------------------

    async def pump(self, send: Send, latest: Mapping[ProductId, Ticker]) -> None:
        """Send until cut off or the socket fails. Events first: they are never dropped."""
        if self.wants_tickers:
            self.ticker_dirty = True  # send the current prices straight after hello
        self.wake.set()
        ticks_urgent = self.hub.ticks_urgent
        while True:
            await self.wake.wait()
            self.wake.clear()
            if ticks_urgent():
                # A tick waits for the engine, whose wake-up is already queued: let it decide
                # first, then write. One yield, so a busy market never starves this client.
                await asyncio.sleep(0)
            if self.too_slow:
                return
            replay, queue = self.replay, self.queue
            while replay:
                await send(replay.popleft())
            while queue:
                await send(queue.popleft())
            if self.status_frame is not None:
                frame, self.status_frame = self.status_frame, None
                await send(frame)
            if self.ping_due:
                self.ping_due = False
                await send(PING_FRAME)
            if self.ticker_dirty and self.wants_tickers:
                await self._tickers(send, latest)

    async def _tickers(self, send: Send, latest: Mapping[ProductId, Ticker]) -> None:
        """Send each product's newest ticker not sent yet, at most once per window per product."""
        clock = self.hub.clock
        now = clock.monotonic()
        if now < self._hold_until:
            return  # the window's timer wakes us; what arrives meanwhile is coalesced
        self.ticker_dirty = False
        products = self.products if self.products is not None else tuple(latest)
        items: list[bytes] = []
        for product in products:
            tick = latest.get(product)
            if tick is None or self._last_sent.get(product) is tick:
                continue
            self._last_sent[product] = tick
            items.append(self.hub.ticker_item(tick))
        if items:
            await send(self.hub.tickers_frame(items))
            self._hold_until = now + self.interval
            clock.call_later(self.interval, self.tickers_changed)
        else:
            self.hub.want_ticks(self)
