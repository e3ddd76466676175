"""A ``Bus`` whose ticks and events also travel over Redis Streams to the cluster's other processes.

In-process subscribers and mailboxes work exactly as on ``InProcessBus`` (it does the local
fan-out); besides, what is published here is appended to Redis (``publish_ticks``: the feed's
ticks, one stream per product; every event, one stream), and what other processes appended is read
back (``read_ticks``: a worker's or the API's ticks) and delivered locally as if published here.

Publishing stays synchronous and cheap: entries wait in an outbox that one writer task sends in a
pipeline (one round trip for everything queued since the last one). Readers use ``XREAD BLOCK``
and remember the last id of every stream, so after a lost connection they resume where they were.
Whether Redis answers is watched: ``on_link(False, reason)`` after ``lost_after_s`` seconds
without an answer (a worker stops placing orders), ``on_link(True, "")`` once it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from time import perf_counter_ns
from typing import Any, TypeVar, overload

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from streambot.bus import EventHandler, InProcessBus, PriceBoard, TickMailbox, Unsubscribe
from streambot.clock import Clock
from streambot.cluster.streams import (
    EVENTS_MAXLEN,
    ORIGIN,
    PAYLOAD,
    TICKS_MAXLEN,
    StreamCodec,
    StreamNames,
)
from streambot.domain import ProductId, Ticker
from streambot.events import Event, FeedStateChanged
from streambot.observability.latency import LatencyStats

log = logging.getLogger(__name__)

E = TypeVar("E", bound=Event)

_READ_BLOCK_MS = 500  # the longest an XREAD waits for entries
_READ_COUNT = 1_000
_OUTBOX_TICKS_MAX = 20_000
_OUTBOX_EVENTS_MAX = 50_000  # events kept while Redis is away; beyond, the oldest are dropped


def _cancelled_meanwhile() -> None:
    """A cancel that reached the client mid-command may surface as a connection error: the loop
    must end all the same, not retry (a stop would wait for it forever)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class RedisStreamsBus:
    """The bus of one cluster process. Build it, then keep ``run()`` going (supervised)."""

    def __init__(
        self,
        redis: Redis,
        clock: Clock,
        *,
        names: StreamNames,
        origin: str,
        products: Sequence[ProductId],
        board: PriceBoard,
        publish_ticks: bool = False,
        read_ticks: bool = False,
        restamp_ticks: bool = True,
        lost_after_s: float = 2.0,
        on_link: Callable[[bool, str], None] | None = None,
    ) -> None:
        self._redis = redis
        self._clock = clock
        self.names = names
        self.origin = origin.encode()
        self._products = tuple(products)
        self._board = board
        self._publish_ticks = publish_ticks
        self._read_ticks = read_ticks
        # Ticks carry the receiving process's perf counter; on one host the feed's is comparable
        # and the latency measured includes Redis (the benchmark keeps it).
        self._restamp = restamp_ticks
        self._lost_after_s = lost_after_s
        self._on_link = on_link
        self.local = InProcessBus(clock)
        # Only the events other processes published (what a process must catch up with itself,
        # such as a fill another worker booked), after the local subscribers heard them.
        self.remote = InProcessBus(clock)
        self._codec = StreamCodec()
        # Every tick goes out (workers build candles from them); a backlog beyond the bound, Redis
        # being away, loses its oldest ticks, which are worthless by then.
        self._ticks_out: deque[Ticker] = deque(maxlen=_OUTBOX_TICKS_MAX)
        self._events_out: deque[bytes] = deque()
        # The feed's state is also kept under a key: a process that starts later begins with it.
        self._feed_state_out: bytes | None = None
        self._wake_writer = asyncio.Event()
        self._sending = asyncio.Lock()
        # An XREAD returns at least this often even when nothing came: how the link is watched.
        self._block_ms = max(10, min(_READ_BLOCK_MS, int(lost_after_s * 1000 / 3)))
        self.connected = True
        self._answered_at = clock.monotonic()
        self.ticks_sent = 0
        self.ticks_received = 0
        self.events_sent = 0
        self.events_received = 0
        self.events_dropped = 0
        self.transit = LatencyStats(4096)  # tick published by the feed → read here (wall clocks)

    # --- the Bus protocol ---------------------------------------------------------------------

    def publish(self, event: Event) -> Event:
        delivered = self.local.publish(event)
        if len(self._events_out) >= _OUTBOX_EVENTS_MAX:
            self._events_out.popleft()
            self.events_dropped += 1
        data = self._codec.encode_event(delivered)
        self._events_out.append(data)
        if isinstance(delivered, FeedStateChanged):
            self._feed_state_out = data
        self._wake_writer.set()
        return delivered

    @overload
    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> Unsubscribe: ...

    @overload
    def subscribe(self, kind: str, handler: EventHandler) -> Unsubscribe: ...

    def subscribe(self, kind: type[E] | str, handler: Callable[[E], None] | EventHandler) -> Unsubscribe:
        return self.local.subscribe(kind, handler)  # type: ignore[arg-type]

    def publish_tick(self, tick: Ticker) -> None:
        self.local.publish_tick(tick)
        if self._publish_ticks:
            self._ticks_out.append(tick)
            self._wake_writer.set()

    def publish_latest(self, latest: Mapping[ProductId, Ticker], counts: Mapping[ProductId, int]) -> None:
        self.local.publish_latest(latest, counts)
        if self._publish_ticks:
            # The other processes' consumers keep the latest tick per product as well: the
            # superseded ones of a read need not cross Redis.
            self._ticks_out.extend(latest.values())
            self._wake_writer.set()

    def tick_mailbox(self, name: str, *, urgent: bool = False) -> TickMailbox:
        return self.local.tick_mailbox(name, urgent=urgent)

    def remove_mailbox(self, box: TickMailbox) -> None:
        self.local.remove_mailbox(box)

    def ticks_urgent(self) -> bool:
        return self.local.ticks_urgent()

    # --- running --------------------------------------------------------------------------

    async def run(self) -> None:
        """Write, read and watch the link until cancelled."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self._write_loop())
            group.create_task(self._read_loop())
            group.create_task(self._watch_link())

    async def flush(self) -> None:
        """Send what is queued now (tests, shutdown)."""
        await self._send()

    async def _write_loop(self) -> None:
        while True:
            # A cancel redis-py swallowed mid-command (it may return or raise something else)
            # still ends the loop: otherwise a stop waits here for a wake-up that never comes.
            _cancelled_meanwhile()
            await self._wake_writer.wait()
            self._wake_writer.clear()
            try:
                await self._send()
            except (RedisError, OSError) as exc:
                _cancelled_meanwhile()
                log.warning("📡 Redis write failed (%s); retrying", exc or type(exc).__name__)
                await self._clock.sleep(0.2)
                self._wake_writer.set()

    async def _send(self) -> None:
        async with self._sending:  # one batch at a time: the writer's and a flush's never overlap
            await self._send_batch()

    async def _send_batch(self) -> None:
        ticks = list(self._ticks_out)
        self._ticks_out.clear()
        events = list(self._events_out)
        feed_state, self._feed_state_out = self._feed_state_out, None
        if not ticks and not events:
            return
        now = self._clock.time()
        pipe = self._redis.pipeline(transaction=False)
        for tick in ticks:
            fields: dict[Any, Any] = {ORIGIN: self.origin, PAYLOAD: self._codec.encode_tick(tick, now)}
            pipe.xadd(self.names.ticks(tick.product_id), fields, maxlen=TICKS_MAXLEN, approximate=True)
        for data in events:
            pipe.xadd(
                self.names.events,
                {ORIGIN: self.origin, PAYLOAD: data},
                maxlen=EVENTS_MAXLEN,
                approximate=True,
            )
        if feed_state is not None:
            pipe.set(self.names.feed_state, feed_state)
        try:
            await pipe.execute()
        except BaseException:
            if self._feed_state_out is None:
                self._feed_state_out = feed_state
            # Unsent ticks go back ahead of those that came meanwhile (the bound drops the oldest).
            self._ticks_out = deque([*ticks, *self._ticks_out], maxlen=_OUTBOX_TICKS_MAX)
            raise
        for _ in events:
            self._events_out.popleft()
        self._answered()
        self.ticks_sent += len(ticks)
        self.events_sent += len(events)

    async def _read_loop(self) -> None:
        streams = await self._start_ids()
        backoff = 0.1
        while True:
            _cancelled_meanwhile()
            try:
                answer = await self._redis.xread(streams, count=_READ_COUNT, block=self._block_ms)  # type: ignore[arg-type]
            except (RedisError, OSError) as exc:
                _cancelled_meanwhile()
                log.debug("Redis read failed: %s", exc)
                await self._clock.sleep(backoff)
                backoff = min(2.0, backoff * 2)
                continue
            backoff = 0.1
            self._answered()
            for key, entries in answer or ():
                stream = key.decode() if isinstance(key, bytes) else str(key)
                for entry_id, fields in entries:
                    streams[stream] = entry_id
                    self._deliver(stream, fields)

    async def _start_ids(self) -> dict[str, bytes | str]:
        """Each stream's newest id now: a process that starts reads what comes from here on (what
        came before is in PostgreSQL); retried until Redis answers."""
        keys = [self.names.events]
        if self._read_ticks:
            keys += [self.names.ticks(p) for p in self._products]
        while True:
            try:
                pipe = self._redis.pipeline(transaction=False)
                for key in keys:
                    pipe.xrevrange(key, count=1)
                pipe.get(self.names.feed_state)
                *newest, feed_state = await pipe.execute()
                break
            except (RedisError, OSError) as exc:
                _cancelled_meanwhile()
                log.warning("📡 Redis not reachable (%s); retrying", exc or type(exc).__name__)
                await self._clock.sleep(1.0)
        self._answered()
        if feed_state is not None and not self._publish_ticks:
            with contextlib.suppress(msgspec.DecodeError):
                self.local.publish(self._codec.decode_event(feed_state))
        return {key: (found[0][0] if found else b"0-0") for key, found in zip(keys, newest, strict=True)}

    def _deliver(self, stream: str, fields: dict[bytes, bytes]) -> None:
        if stream == self.names.events:
            if fields.get(ORIGIN) == self.origin:
                return  # our own, delivered locally when published
            try:
                event = self._codec.decode_event(fields[PAYLOAD])
            except (KeyError, msgspec.DecodeError) as exc:
                log.warning("📡 An unreadable event on %s skipped: %s", stream, exc)
                return
            self.events_received += 1
            self.local.publish(event)
            self.remote.publish(event)
            return
        try:
            envelope = self._codec.decode_tick(fields[PAYLOAD])
        except (KeyError, msgspec.DecodeError) as exc:
            log.warning("📡 An unreadable tick on %s skipped: %s", stream, exc)
            return
        tick = envelope.tick
        if self._restamp:
            tick = msgspec.structs.replace(tick, received_ns=perf_counter_ns())
        self.ticks_received += 1
        self.transit.record(max(0, int((self._clock.time() - envelope.published_at) * 1e9)))
        self._board.record(tick)
        self.local.publish_tick(tick)

    def _answered(self) -> None:
        self._answered_at = self._clock.monotonic()
        if not self.connected:
            self.connected = True
            log.info("📡 Redis answers again")
            if self._on_link is not None:
                self._on_link(True, "")

    async def _watch_link(self) -> None:
        while True:
            await self._clock.sleep(min(0.25, self._lost_after_s / 4))
            silent = self._clock.monotonic() - self._answered_at
            if self.connected and silent >= self._lost_after_s:
                self.connected = False
                reason = f"Redis has not answered for {silent:.1f}s"
                log.error("📡 %s", reason)
                if self._on_link is not None:
                    self._on_link(False, reason)
