"""Coinbase's number and time strings, shared by the REST bodies and the WebSocket frames."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

from streambot.venues.matcher.fees import AMOUNT_QUANTUM


def decimal_text(value: Decimal) -> str:
    """Coinbase's number strings: fixed-point, trailing zeros trimmed (``15460``, ``0.00002``)."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def on_increment(value: Decimal, increment: Decimal) -> str:
    return decimal_text(value.quantize(increment))


def balance_text(value: Decimal) -> str:
    """Balances keep all 16 places, as Coinbase sends them (``242.2100000000000000``)."""
    return format(value.quantize(AMOUNT_QUANTUM), "f")


_second_cache: dict[int, str] = {}


def _utc_seconds(seconds: int, separator: str) -> str:
    key = seconds * 2 + (separator == "T")
    text = _second_cache.get(key)
    if text is None:
        if len(_second_cache) > 16:
            _second_cache.clear()
        text = time.strftime(f"%Y-%m-%d{separator}%H:%M:%S", time.gmtime(seconds))
        _second_cache[key] = text
    return text


def rfc3339_nano(ns: int) -> str:
    """Go's RFC3339Nano: up to 9 fraction digits, trailing zeros trimmed, ``Z``."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = _utc_seconds(seconds, "T")
    if not nanos:
        return base + "Z"
    return f"{base}.{nanos:09d}".rstrip("0") + "Z"


def rfc3339_micro(timestamp: float) -> str:
    """REST order/fill times: six fraction digits (``2023-11-26T10:19:47.423220Z``)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 time as Coinbase and its clients write it (``Z`` or an offset, up to 9 fraction
    digits: the 7th and later are dropped); a time without a zone is taken as UTC. ValueError if
    it is not one."""
    parsed = datetime.fromisoformat(text)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def rfc3339_milli(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def go_time_string(ns: int, monotonic: float) -> str:
    """Go's ``time.Time.String()`` with its monotonic reading, as heartbeats carry it."""
    seconds, nanos = divmod(ns, 1_000_000_000)
    base = _utc_seconds(seconds, " ")
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{base}{fraction} +0000 UTC m=+{monotonic:.9f}"
