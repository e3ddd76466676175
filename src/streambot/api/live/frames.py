"""The JSON frames of the dashboard WebSockets (docs/contracts.md), encoded once, sent to many."""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal

import msgspec
import orjson
from pydantic import BaseModel, ConfigDict, Field

from streambot.domain import Ticker
from streambot.events import Event
from streambot.observability.logging import LogEntry

SUBPROTOCOL: Final = "streambot.v1"
TOKEN_PREFIX: Final = "token."


class CloseCode(enum.IntEnum):
    """Application close codes; the reason text says what to do."""

    BAD_REQUEST = 4400  # a query parameter is invalid
    UNAUTHORIZED = 4401  # missing or wrong token, or no auth message in time
    FORBIDDEN_ORIGIN = 4403
    NOT_FOUND = 4404  # the bot of /ws/bots/{bot_id} does not exist
    TOO_SLOW = 4408  # fell too far behind; reconnect with last_event_id
    LOCKED_OUT = 4429  # too many wrong tokens from this address
    TRY_AGAIN_LATER = 1013  # the server has as many clients as it accepts


LOG_TOPIC: Final = "logs"
"""The log records' topic: only the logs channel carries it, and it is never replayed (log ids
are the ring's, not the events'); a client reads what it missed from GET /api/v1/logs."""


class Channel(enum.StrEnum):
    TRADE_EXECUTION = "trade-execution"
    BOTS = "bots"
    MARKET = "market"
    STATUS = "status"
    LOGS = "logs"


# Which bus topics each channel carries (a prefix matches itself and "<prefix>.*").
CHANNEL_TOPICS: Final[dict[Channel, tuple[str, ...]]] = {
    Channel.TRADE_EXECUTION: ("orders", "trades", "bots.signal", "risk"),
    Channel.BOTS: ("orders", "trades", "bots", "risk"),
    Channel.MARKET: (),
    Channel.STATUS: ("feed", "alerts", "risk", "backtests", "optimizations"),
    Channel.LOGS: (LOG_TOPIC,),
}


def topic_matches(topic: str, prefixes: tuple[str, ...]) -> bool:
    return any(topic == p or topic.startswith(p + ".") for p in prefixes)


class AuthMessage(BaseModel):
    """The first message of a client that did not authenticate with the subprotocol header."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=512)
    last_event_id: int | None = Field(default=None, ge=0)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One bus event as pushed: its id, what it concerns (for filtering) and its encoded frame."""

    id: int
    topic: str
    bot_id: int | None
    frame: str


def _default(value: object) -> object:
    # Money is Decimal; the contract sends decimals as strings so no precision is lost.
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


def dumps(payload: dict[str, Any]) -> str:
    return orjson.dumps(payload, default=_default).decode()


def event_bot_id(data: dict[str, Any]) -> int | None:
    """The bot an event concerns, wherever the publisher put it."""
    bot_id = data.get("bot_id")
    if bot_id is None:
        for key in ("order", "trade"):
            inner = data.get(key)
            if isinstance(inner, dict):
                bot_id = inner.get("bot_id")
            elif inner is not None:
                bot_id = getattr(inner, "bot_id", None)
            if bot_id is not None:
                break
    return bot_id if isinstance(bot_id, int) else None


def _plain(value: object) -> object:
    """A payload value as the frames have always carried it (money and times as strings)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


_NO_DEFAULT: Final = object()
_payload_fields: dict[type[Event], tuple[tuple[str, object], ...]] = {}


def _fields_of(kind: type[Event]) -> tuple[tuple[str, object], ...]:
    """The payload fields of an event type (``ts`` travels beside them) and, where the type leaves
    a field at its default out of the frame (``omit_defaults``), that default."""
    fields = _payload_fields.get(kind)
    if fields is None:
        omit = kind.__struct_config__.omit_defaults
        fields = _payload_fields[kind] = tuple(
            (f.name, f.default if omit and f.default is not msgspec.NODEFAULT else _NO_DEFAULT)
            for f in msgspec.structs.fields(kind)
            if f.name != "ts"
        )
    return fields


def event_data(event: Event) -> dict[str, Any]:
    """The ``data`` of an event's frame: its fields in declaration order, as plain JSON values."""
    data: dict[str, Any] = {}
    for name, default in _fields_of(type(event)):
        value = getattr(event, name)
        if default is not _NO_DEFAULT and value == default:
            continue
        data[name] = _plain(value)
    return data


def event_frame(event_id: int, topic: str, ts: float, data: dict[str, Any]) -> str:
    return dumps({"type": "event", "id": event_id, "topic": topic, "ts": ts, "data": data})


def log_json(entry: LogEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "ts": entry.ts,
        "level": entry.level,
        "logger": entry.logger,
        "message": entry.message,
    }


def log_frame(entry: LogEntry) -> str:
    return dumps({"type": "log", "entry": log_json(entry)})


def ticker_json(tick: Ticker) -> bytes:
    """One ticker as a JSON object: an item of the ``tickers`` frame."""
    return orjson.dumps(
        {
            "product_id": tick.product_id,
            "price": tick.price,
            "best_bid": tick.best_bid,
            "best_ask": tick.best_ask,
            "volume_24h": tick.volume_24h,
            "low_24h": tick.low_24h,
            "high_24h": tick.high_24h,
            "price_change_pct_24h": tick.price_change_pct_24h,
            "time": tick.time,
        }
    )


def tickers_frame(items: list[bytes]) -> str:
    """Every product's new ticker of a client's window in one frame: one socket write, not N."""
    return (b'{"type":"tickers","tickers":[' + b",".join(items) + b"]}").decode()


def hello_frame(channel: Channel, last_event_id: int, server_time: float) -> str:
    return dumps(
        {
            "type": "hello",
            "channel": channel.value,
            "server_time": server_time,
            "last_event_id": last_event_id,
        }
    )


RESET_FRAME: Final = dumps({"type": "reset"})
PING_FRAME: Final = dumps({"type": "ping"})
