"""What travels on the cluster's Redis Streams and under which keys.

One stream per product for ticks (``<prefix>:ticks:<product>``), trimmed with ``MAXLEN ~`` (an
old tick is worthless), and one stream for every event (``<prefix>:events``), trimmed more
generously so a reader that reconnects resumes from its last id without a gap. An entry names the
process that wrote it (``o``), so a process skips its own events coming back.

Ticks are msgpack (a ``Ticker`` and the publisher's wall time), events msgspec JSON tagged with
their class (``events.AnyEvent``): both decode into the very types the in-process bus carries.
"""

from __future__ import annotations

from typing import Final

import msgspec

from streambot.domain import ProductId, Ticker
from streambot.events import AnyEvent, Event

ORIGIN: Final = b"o"
PAYLOAD: Final = b"d"
TICKS_MAXLEN: Final = 1_000  # per product: a reader this far behind wants the newest tick anyway
EVENTS_MAXLEN: Final = 100_000  # every order and fill of a busy day, for readers that resume


class TickEnvelope(msgspec.Struct, array_like=True, frozen=True):
    """A tick as the feed published it: ``published_at`` is the feed's clock (UNIX seconds)."""

    tick: Ticker
    published_at: float


class StreamNames:
    """The keys of one cluster's streams; ``prefix`` keeps two clusters on one Redis apart."""

    __slots__ = ("events", "feed_state", "prefix")

    def __init__(self, prefix: str = "streambot") -> None:
        if not prefix or any(c.isspace() for c in prefix):
            raise ValueError(f"stream prefix {prefix!r} must be non-empty without spaces")
        self.prefix = prefix
        self.events = f"{prefix}:events"
        self.feed_state = f"{prefix}:feed_state"  # the feed's latest FeedStateChanged, for late starters

    def ticks(self, product_id: ProductId | str) -> str:
        return f"{self.prefix}:ticks:{product_id}"


class StreamCodec:
    """Encoders and decoders made once: they are on the hot path of every tick."""

    __slots__ = ("_event_decoder", "_event_encoder", "_tick_decoder", "_tick_encoder")

    def __init__(self) -> None:
        self._tick_encoder = msgspec.msgpack.Encoder()
        self._tick_decoder = msgspec.msgpack.Decoder(TickEnvelope)
        self._event_encoder = msgspec.json.Encoder()
        self._event_decoder = msgspec.json.Decoder(AnyEvent)

    def encode_tick(self, tick: Ticker, published_at: float) -> bytes:
        # A tick from the feed keeps its frame's datetime until its time is first read
        # (domain.Ticker); the encoder reads the slot itself, so the float must be there first.
        tick.time  # noqa: B018
        return self._tick_encoder.encode(TickEnvelope(tick, published_at))

    def decode_tick(self, data: bytes) -> TickEnvelope:
        return self._tick_decoder.decode(data)

    def encode_event(self, event: Event) -> bytes:
        return self._event_encoder.encode(event)

    def decode_event(self, data: bytes) -> Event:
        event: Event = self._event_decoder.decode(data)
        return event
