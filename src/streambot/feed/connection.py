"""Subscribing every product on every channel over one feed connection.

One connection carries every product: one subscribe frame per channel lists all products as an
array (the system this replaces subscribed per product with a string and got an error frame back).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import msgspec

from streambot.feed.messages import SubscribeRequest
from streambot.feed.transport import FeedTransport

log = logging.getLogger("streambot.feed.client")

_encode = msgspec.json.Encoder().encode


async def subscribe(
    transport: FeedTransport,
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
        await transport.send(_encode(request))
    log.debug("Subscribed %s to %d products", ", ".join(channels), len(products))
