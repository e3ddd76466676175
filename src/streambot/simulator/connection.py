"""One simulator WebSocket client: its subscriptions, sequence counter and bounded outbox.

Each connection has a bounded outbox drained by its own sender task, so a slow reader never stalls
the market or the other clients: when its outbox fills up the connection is dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Final

from aiohttp import WSMsgType, web

from streambot.clock import Clock
from streambot.simulator.faults import Faults

log = logging.getLogger(__name__)

CLOSE_TIMEOUT: Final = 1.0


class Connection:
    __slots__ = (
        "_clock",
        "dropped",
        "faults",
        "max_pending",
        "outbox",
        "sender",
        "sequence",
        "subscribed",
        "subscriptions",
        "transport",
        "wake",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.BaseTransport | None,
        max_pending: int,
        faults: Faults,
        clock: Clock,
    ) -> None:
        self.ws = ws
        self.transport = transport
        self.max_pending = max_pending
        self.faults = faults
        self._clock = clock
        self.sequence = 0
        # (head, tail, due): an enveloped frame gets its sequence_num spliced between head and
        # tail; tail None means a flat frame (errors) that carries no sequence_num; due is the
        # monotonic time it may leave (0: at once), set while a latency fault runs.
        self.outbox: deque[tuple[bytes, bytes | None, float]] = deque()
        self.wake = asyncio.Event()
        self.subscriptions: dict[str, list[str]] = {}
        self.subscribed = False
        self.dropped = False
        self.sender: asyncio.Task[None] | None = None

    def send(self, head: bytes, tail: bytes | None) -> None:
        if self.dropped:
            return
        faults = self.faults
        if faults.silence_until and faults.silenced():
            return  # a silent server sends nothing, and numbers nothing it did not send
        if len(self.outbox) >= self.max_pending:
            self.drop("it does not read fast enough")
            return
        delay = faults.latency() if faults.latency_until else 0.0
        self.outbox.append((head, tail, self._clock.monotonic() + delay if delay else 0.0))
        self.wake.set()

    def drop(self, reason: str) -> None:
        if self.dropped:
            return
        self.dropped = True
        self.outbox.clear()
        log.warning("Dropping a simulator WebSocket client: %s", reason)
        # Abort rather than close: a close handshake would queue behind the backlog it cannot drain.
        if isinstance(self.transport, asyncio.WriteTransport):
            self.transport.abort()
        elif self.transport is not None:
            self.transport.close()

    async def close(self, code: int, message: bytes) -> bool:
        """A close handshake, bounded in time; False when the peer did not take part."""
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=message), CLOSE_TIMEOUT)
        except (TimeoutError, ConnectionError, RuntimeError):
            return False
        return True

    async def run_sender(self) -> None:
        ws, outbox = self.ws, self.outbox
        try:
            while not self.dropped:
                await self.wake.wait()
                self.wake.clear()
                while outbox:
                    head, tail, due = outbox[0]
                    if due:
                        wait = due - self._clock.monotonic()
                        if wait > 0:
                            await self._clock.sleep(wait)
                            continue  # the outbox may have been cleared meanwhile
                    outbox.popleft()
                    if tail is None:
                        data = head
                    else:
                        data = b"".join((head, str(self.sequence).encode(), tail))
                        self.sequence += 1
                    await ws.send_frame(data, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError) as exc:
            # The peer went away mid-send; the receive loop notices and cleans up.
            log.debug("Simulator WebSocket sender stopped: %s", exc)
