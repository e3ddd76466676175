"""The feed's WebSocket transport: connect, send, receive, close. The client knows no library.

``connect(url)`` opens a ``FeedTransport``; ``receive(on_frame)`` hands every text or binary
message to ``on_frame`` synchronously, as it arrives, until the connection ends, and returns why it
ended. A callback rather than an awaited ``receive()`` per message: awaiting one future per frame
is most of what an async WebSocket API costs at a hundred thousand frames a second.

The implementation is picows (Cython, zero-copy): measured on one loopback stream of Coinbase
ticker frames (``streambot bench --only feed_throughput``) it carries the platform's client at
several times aiohttp's rate. aiohttp stays the platform's HTTP client for REST.

``on_frame`` receives a ``memoryview`` of picows' receive buffer, valid only during the call:
decode it there (msgspec reads it without a copy) and copy it (``bytes(data)``) to keep it.
An exception escaping ``on_frame`` ends the connection and is raised by ``receive``.

``on_read_end`` is called after the last frame of each socket read: nothing else
runs on the loop between a read's frames, so a consumer may keep what they carried and hand it
on there, once per read rather than once per frame. To make sure every read ends with it, pings
are answered here rather than by picows (which would not show us a ping that ends a read).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Final, Protocol

from picows import WSCloseCode, WSError, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

log = logging.getLogger("streambot.feed.client")

CONNECT_TIMEOUT_S: Final = 10.0
CLOSE_TIMEOUT_S: Final = 1.0
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024  # subscriptions acks / snapshots can be large

FrameHandler = Callable[[memoryview], None]
ReadEndHandler = Callable[[], None]

TRANSPORT_ERRORS: Final = (WSError, OSError, TimeoutError)
"""What a failed connect or a broken connection raises: expected, logged without a traceback."""

__all__ = [
    "CLOSE_TIMEOUT_S",
    "CONNECT_TIMEOUT_S",
    "MAX_FRAME_BYTES",
    "TRANSPORT_ERRORS",
    "FeedTransport",
    "FrameHandler",
    "ReadEndHandler",
    "connect",
]


class FeedTransport(Protocol):
    """One open WebSocket connection to the feed."""

    @property
    def closed(self) -> bool: ...

    async def send(self, text: bytes) -> None:
        """Send one text message (UTF-8)."""

    async def receive(self, on_frame: FrameHandler, on_read_end: ReadEndHandler) -> str:
        """Call ``on_frame`` with every message until the connection ends, and ``on_read_end``
        after the last message of each socket read (the feed client hands on what a read carried
        only then); return why it ended."""

    async def close(self) -> None:
        """Close politely, but never wait long for the other side; harmless when already closed."""


async def connect(url: str) -> FeedTransport:
    """Open the WebSocket at ``url`` (ws:// or wss://); raises one of ``TRANSPORT_ERRORS``."""
    async with asyncio.timeout(CONNECT_TIMEOUT_S):
        transport, listener = await ws_connect(
            _Listener,
            url,
            websocket_handshake_timeout=CONNECT_TIMEOUT_S,
            enable_auto_pong=False,  # answered by _Listener: see on_read_end
            max_frame_size=MAX_FRAME_BYTES,
            logger_name="feed",  # picows logs as "picows.feed"
        )
    assert isinstance(listener, _Listener)
    return PicowsTransport(transport, listener)


class _Listener(WSListener):
    """picows calls this for every frame, inside the loop's data callback."""

    # Slots, not a __dict__: on a subclass of picows' (Cython) listener, an attribute in the
    # instance dict is read the interpreter's slow, generic way, once per frame here (a slot: its
    # fast way, about a third of the time).
    __slots__ = ("close_code", "early", "fragments", "on_frame", "on_read_end")

    def __init__(self) -> None:
        super().__init__()
        self.on_frame: FrameHandler | None = None
        self.on_read_end: ReadEndHandler = _nothing
        # Messages that came before receive() started (none from Coinbase before a subscribe).
        self.early: list[bytes] = []
        self.fragments: bytearray | None = None
        self.close_code: int | None = None

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        msg_type = frame.msg_type
        if (msg_type is _TEXT or msg_type is _BINARY) and frame.fin:
            on_frame = self.on_frame
            if on_frame is not None:
                on_frame(frame.get_payload_as_memoryview())
                if frame.last_in_buffer:
                    self.on_read_end()
            else:
                self.early.append(frame.get_payload_as_bytes())
            return
        self._rare_frame(transport, frame, msg_type)
        if frame.last_in_buffer:
            self.on_read_end()

    def _rare_frame(self, transport: WSTransport, frame: WSFrame, msg_type: WSMsgType) -> None:
        if msg_type is _PING:
            transport.send_pong(frame.get_payload_as_bytes())
        elif msg_type is _CLOSE:
            # Answer the server's close and hang up (picows leaves both to its user).
            self.close_code = frame.get_close_code().value
            transport.send_close(frame.get_close_code())
            transport.disconnect()
        elif msg_type is _TEXT or msg_type is _BINARY:  # the first fragment of a message
            self.fragments = bytearray(frame.get_payload_as_memoryview())
        elif msg_type is _CONTINUATION and self.fragments is not None:
            self.fragments += frame.get_payload_as_memoryview()
            if len(self.fragments) > MAX_FRAME_BYTES:
                transport.send_close(WSCloseCode.MESSAGE_TOO_BIG)
                transport.disconnect()
            elif frame.fin:
                message, self.fragments = bytes(self.fragments), None
                if self.on_frame is not None:
                    self.on_frame(memoryview(message))
                else:
                    self.early.append(message)
        # PONG needs nothing.


_TEXT: Final = WSMsgType.TEXT
_BINARY: Final = WSMsgType.BINARY
_CLOSE: Final = WSMsgType.CLOSE
_CONTINUATION: Final = WSMsgType.CONTINUATION
_PING: Final = WSMsgType.PING


def _nothing() -> None:
    """``on_read_end`` when the consumer has none."""


class PicowsTransport:
    __slots__ = ("_listener", "_transport")

    def __init__(self, transport: WSTransport, listener: _Listener) -> None:
        self._transport = transport
        self._listener = listener

    @property
    def closed(self) -> bool:
        return bool(self._transport.is_disconnected or self._transport.is_close_frame_sent)

    async def send(self, text: bytes) -> None:
        self._transport.send(_TEXT, text)

    async def receive(self, on_frame: FrameHandler, on_read_end: ReadEndHandler) -> str:
        listener = self._listener
        read_end = on_read_end
        early, listener.early = listener.early, []
        for message in early:
            on_frame(memoryview(message))
        if early:
            read_end()
        listener.on_read_end = read_end
        listener.on_frame = on_frame
        try:
            await self._transport.wait_disconnected()  # raises what on_frame raised
        finally:
            listener.on_frame = None
            listener.on_read_end = _nothing
        code = listener.close_code
        return f"server closed the connection (code {code})" if code is not None else "connection lost"

    async def close(self) -> None:
        transport = self._transport
        if transport.is_disconnected:
            return
        try:
            if not transport.is_close_frame_sent:
                transport.send_close(WSCloseCode.OK)
            transport.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(transport.wait_disconnected(), CLOSE_TIMEOUT_S)
        except Exception:
            log.debug("Feed socket close failed", exc_info=True)
