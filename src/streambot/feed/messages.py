"""Coinbase Advanced Trade WebSocket frames as msgspec Structs.

Only the fields the bot reads are declared; msgspec skips the rest without building them, which is
most of what keeps decoding cheap. Decoders built on these types run with ``strict=False`` so the
price strings Coinbase sends (``"21932.98"``) become floats during the one decode pass.

The server frames form a union tagged by ``channel``. Error frames have no envelope (they carry
``type`` instead of ``channel``) and channels we do not model have tags the union does not know;
both are read with the loose ``Envelope`` after the tagged decode has declined them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from streambot.domain import Ticker

# RFC 3339 with any number of fraction digits (msgspec keeps microseconds, the resolution a float
# of UNIX seconds has anyway); a zone is required so a naive value cannot be read as local time.
Timestamp = Annotated[datetime, msgspec.Meta(tz=True)]

MAX_COUNTER = 2**53 - 1
"""The largest sequence number or heartbeat counter we accept: exact in a float and in the
dashboard's JavaScript, far beyond what a connection reaches. A frame carrying more (or a negative
number) is malformed: a huge integer must never reach the gap logic or the JSON encoders."""

Counter = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNTER)]


class TickerEvent(msgspec.Struct, gc=False):
    # Decoded straight into the domain's Ticker (its fields carry the wire names); the parser
    # completes what an item does not carry and validates the prices.
    tickers: list[Ticker]
    # Its "type" (snapshot | update) is not read: both carry current tickers.


class HeartbeatEvent(msgspec.Struct, gc=False):
    # A JSON number on the wire, a string in the docs: lax decoding takes both.
    heartbeat_counter: Counter
    current_time: str = ""


class SubscriptionsEvent(msgspec.Struct, gc=False):
    subscriptions: dict[str, list[str]]


class TickerFrame(msgspec.Struct, tag_field="channel", tag="ticker", gc=False):
    timestamp: Timestamp
    events: list[TickerEvent]
    sequence_num: Counter | None = None
    # "client_id" ("" when present; some captures omit it) is not read: skipped, not built.


class TickerBatchFrame(TickerFrame, tag="ticker_batch", gc=False):
    pass


class HeartbeatsFrame(msgspec.Struct, tag_field="channel", tag="heartbeats", gc=False):
    events: list[HeartbeatEvent]
    timestamp: str = ""
    sequence_num: Counter | None = None
    client_id: str = ""


class SubscriptionsFrame(msgspec.Struct, tag_field="channel", tag="subscriptions", gc=False):
    events: list[SubscriptionsEvent]
    timestamp: str = ""
    sequence_num: Counter | None = None
    client_id: str = ""


ServerFrame = TickerFrame | TickerBatchFrame | HeartbeatsFrame | SubscriptionsFrame

KNOWN_CHANNELS = frozenset({"ticker", "ticker_batch", "heartbeats", "subscriptions"})


class Envelope(msgspec.Struct, gc=False):
    """Any server frame, loosely: enough to tell an error frame or an unmodelled channel apart."""

    channel: str = ""
    type: str = ""  # "error" on the flat error frames
    message: str = ""
    sequence_num: Counter | None = None
    timestamp: str = ""
    client_id: str = ""
    events: msgspec.Raw = msgspec.Raw(b"[]")


class SubscribeRequest(msgspec.Struct, omit_defaults=True, gc=False):
    """Client → server. One channel per frame; ``product_ids`` is always an array."""

    type: str
    product_ids: list[str]
    channel: str
    jwt: str | None = None
