"""The market-data WebSocket endpoint at ``/``: accepting clients, their control frames, closing them.

A client that subscribes to nothing within ``subscribe_timeout`` is told so and closed, as Coinbase
does. Also the target of the instant faults, which act on the sockets open right now.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from aiohttp import WSCloseCode, WSMsgType, web

from streambot.clock import Clock
from streambot.simulator.auth import AuthFailure, JwtVerifier
from streambot.simulator.channels import error_frame
from streambot.simulator.connection import CLOSE_TIMEOUT, Connection
from streambot.simulator.control import ControlError, parse_control
from streambot.simulator.fanout import SUPPORTED_CHANNELS, ChannelFanout
from streambot.simulator.faults import Faults

log = logging.getLogger(__name__)
_LAST_LOOK_S = 0.1  # the grace of that last read: a subscribe already sent, not a late one

# Every kind a client parser can trip on: a cut-off frame, not JSON at all, JSON of the wrong shape.
MALFORMED_FRAMES: Final = (
    b'{"channel":"ticker","client_id":"","timestamp":"2026-01-01T00:00:00Z","sequence_num":',
    b"<html><body>502 Bad Gateway</body></html>",
    b'{"channel":"ticker","events":"not-a-list","sequence_num":"x"}',
    b"[1, 2, 3]",
)


def _ticker(sequence: bytes, product: bytes, price: bytes, bid: bytes, ask: bytes) -> bytes:
    """A ticker frame; ``sequence`` b"" leaves sequence_num out, so the frame is judged on its prices
    alone whatever the connection's numbering."""
    return (
        b'{"channel":"ticker","client_id":"","timestamp":"2026-01-01T00:00:00Z",'
        + (b'"sequence_num":' + sequence + b"," if sequence else b"")
        + b'"events":[{"type":"update","tickers":[{"type":"ticker","product_id":"'
        + product
        + b'","price":"'
        + price
        + b'","volume_24_h":"1","low_24_h":"1","high_24_h":"1","price_percent_chg_24_h":"0",'
        + b'"best_bid":"'
        + bid
        + b'","best_ask":"'
        + ask
        + b'"}]}]}'
    )


# Frames that once froze or crashed a client (issue 14): each must end as a counted malformed frame
# or a dropped ticker, and the stream must go on. They carry their own sequence numbers.
POISON_FRAMES: Final = (
    _ticker(b"1", b"BTC-\xff\xfe", b"1", b"1", b"1"),  # invalid UTF-8 inside a string
    b'{"channel":"ticker","events":' + b"[" * 5000 + b"]" * 5000 + b"}",  # nesting 5000 deep
    _ticker(b"9" * 40, b"BTC-USD", b"1", b"1", b"1"),  # beyond any 64-bit integer
    # a sequence_num far ahead on a frame that carries no price: the client must resync after it
    b'{"channel":"heartbeats","client_id":"","timestamp":"2026-01-01T00:00:00Z",'
    b'"sequence_num":9007199254740990,"events":[{"current_time":"","heartbeat_counter":1}]}',
    _ticker(b"18446744073709551615", b"BTC-USD", b"1", b"1", b"1"),  # 2^64 - 1
    _ticker(b"", b"BTC-USD", b"NaN", b"1", b"1"),
    _ticker(b"", b"BTC-USD", b"1", b"NaN", b"Infinity"),
    _ticker(b"", b"BTC-USD", b"-1", b"-1", b"-1"),
    _ticker(b"", b"BTC-USD", b"100", b"101", b"99"),  # crossed: bid above ask
)


class WebSocketEndpoint:
    def __init__(
        self,
        fanout: ChannelFanout,
        verifier: JwtVerifier,
        faults: Faults,
        *,
        clock: Clock,
        subscribe_timeout: float,
        max_pending_frames: int,
    ) -> None:
        self._clock = clock
        self.fanout = fanout
        self.verifier = verifier
        self.faults = faults
        self.subscribe_timeout = subscribe_timeout
        self.max_pending_frames = max_pending_frames
        self.connections: set[Connection] = set()
        self._closing: set[asyncio.Task[None]] = set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(timeout=CLOSE_TIMEOUT, compress=False, max_msg_size=1 << 20)
        if not ws.can_prepare(request):
            return web.Response(
                status=426,
                text="streambot simulator: WebSocket market data here, REST under /api/v3/brokerage\n",
            )
        await ws.prepare(request)
        conn = Connection(ws, request.transport, self.max_pending_frames, self.faults, self._clock)
        self.connections.add(conn)
        conn.sender = asyncio.create_task(conn.run_sender(), name="simulator-ws-sender")
        clock = self._clock
        deadline = clock.monotonic() + self.subscribe_timeout
        last_look = False
        try:
            while not conn.dropped:
                # A tiny floor still reads a frame already waiting: after a stall of the loop, a
                # subscribe that arrived in time must not be discarded for being read late.
                timeout = None if conn.subscribed else max(deadline - clock.monotonic(), 0.001)
                try:
                    message = await ws.receive(timeout=timeout)
                except TimeoutError:
                    if clock.monotonic() >= deadline:
                        if last_look:
                            await self._close_unsubscribed(conn)
                            break
                        # One more short read before closing: after a stall the subscribe may
                        # sit unread in the socket (the timer fired before the read was handled).
                        last_look = True
                        deadline = clock.monotonic() + _LAST_LOOK_S
                    continue
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self._on_client_frame(conn, message.data)
                elif message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
                    break
        finally:
            self.connections.discard(conn)
            self.fanout.forget(conn)
            conn.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await conn.sender
            if not ws.closed and not conn.dropped:
                await conn.close(WSCloseCode.OK, b"")
        return ws

    async def _close_unsubscribed(self, conn: Connection) -> None:
        log.info(
            "Closing a simulator WebSocket client that sent no subscribe within %ss",
            self.subscribe_timeout,
        )
        conn.dropped = True  # the sender must not write after the close frame
        with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
            await conn.ws.send_frame(error_frame("subscribe or unsubscribe required"), WSMsgType.TEXT)
            await conn.close(WSCloseCode.POLICY_VIOLATION, b"subscribe required")

    def _on_client_frame(self, conn: Connection, data: str | bytes) -> None:
        try:
            kind, channel, product_ids, token = parse_control(data)
            if kind not in ("subscribe", "unsubscribe"):
                raise ControlError("subscribe or unsubscribe required")
            if channel not in SUPPORTED_CHANNELS:
                # Coinbase answers an unknown channel like a bad credential.
                raise ControlError("authentication failure")
            if self.verifier.enabled and (token is not None or channel == "user"):
                try:
                    self.verifier.verify(token or "")
                except AuthFailure as exc:
                    log.info("Simulator refused a %s %s frame: %s", kind, channel, exc)
                    raise ControlError("authentication failure") from None
            if kind == "subscribe":
                self.fanout.subscribe(conn, channel, product_ids)
            else:
                self.fanout.unsubscribe(conn, channel, product_ids)
        except ControlError as exc:
            conn.send(error_frame(str(exc)), None)

    async def close_all(self) -> None:
        """A clean close for every client; one that does not answer in time is dropped."""
        await asyncio.gather(
            *(self._close_going_away(c) for c in tuple(self.connections)), return_exceptions=True
        )

    @staticmethod
    async def _close_going_away(conn: Connection) -> None:
        if not await conn.close(WSCloseCode.GOING_AWAY, b"simulator stopping"):
            conn.drop("the simulator is stopping")

    # FaultTarget: what the instant faults do to the open sockets.

    def fault_drop_connections(self, code: int | None) -> int:
        connections = tuple(self.connections)
        for conn in connections:
            if code is None:
                conn.drop("fault injected: drop_connections")
            else:
                conn.dropped = True
                conn.outbox.clear()
                task = asyncio.get_running_loop().create_task(
                    self._close_with(conn, code), name="simulator-fault-close"
                )
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        return len(connections)

    @staticmethod
    async def _close_with(conn: Connection, code: int) -> None:
        if not await conn.close(code, b"fault injected") and conn.transport is not None:
            conn.transport.close()

    def fault_skip_sequence(self, count: int) -> int:
        for conn in self.connections:
            conn.sequence += count
        return len(self.connections)

    def fault_send_malformed(self, count: int) -> int:
        for conn in self.connections:
            for index in range(count):
                conn.send(MALFORMED_FRAMES[index % len(MALFORMED_FRAMES)], None)
        return len(self.connections)

    def fault_send_poison(self, count: int) -> int:
        for conn in self.connections:
            for _ in range(count):
                for frame in POISON_FRAMES:
                    conn.send(frame, None)
        return len(self.connections)
