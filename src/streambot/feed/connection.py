"""Opening the feed's WebSocket and subscribing every product on every channel.

One connection carries every product: one subscribe frame per channel lists all products as an
array (the system this replaces subscribed per product with a string and got an error frame back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Final, Literal

import aiohttp
import msgspec

from streambot.feed.messages import SubscribeRequest

log = logging.getLogger("streambot.feed.client")

CONNECT_TIMEOUT_S: Final = 10.0
CLOSE_TIMEOUT_S: Final = 1.0
MAX_FRAME_BYTES: Final = 16 * 1024 * 1024  # subscriptions acks / snapshots can be large

FeedSocket = aiohttp.ClientWebSocketResponse[Literal[False]]

_encode = msgspec.json.Encoder().encode


async def open_socket(session: aiohttp.ClientSession, url: str) -> FeedSocket:
    async with asyncio.timeout(CONNECT_TIMEOUT_S):
        return await session.ws_connect(
            url,
            decode_text=False,  # msgspec reads the UTF-8 bytes directly
            autoping=True,
            max_msg_size=MAX_FRAME_BYTES,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT_S),
        )


async def subscribe(
    ws: FeedSocket,
    products: Sequence[str],
    channels: Sequence[str],
    jwt_factory: Callable[[], str] | None,
) -> None:
    for channel in channels:
        request = SubscribeRequest(
            type="subscribe",
            product_ids=list(products),
            channel=channel,
            jwt=jwt_factory() if jwt_factory is not None else None,
        )
        await ws.send_str(_encode(request).decode())
    log.debug("Subscribed %s to %d products", ", ".join(channels), len(products))


async def close_socket(ws: FeedSocket | None) -> None:
    """Close politely, but never wait long for the other side."""
    if ws is not None and not ws.closed:
        try:
            await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT_S)
        except Exception:
            log.debug("Feed socket close failed", exc_info=True)
