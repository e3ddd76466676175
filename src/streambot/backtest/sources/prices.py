"""JSON-lines price files as ``streambot simulate --prices`` reads them, plain, .gz or .zst.

A line is either a flat tick
``{"time": 1767225600.5, "product_id": "BTC-USD", "price": "97000.01", "best_bid": "97000",
"best_ask": "97000.02"}`` (``time`` in UNIX seconds or RFC 3339, UTC when it names no zone;
prices as strings or numbers; bid and ask optional, the price when absent), or a Coinbase
``ticker`` frame exactly as the WebSocket sent it, which goes through the live feed's parser and
is replayed at the frame's ``timestamp``. Both may be mixed in one file.

A tick earlier than the one before it in the same file is replayed at the earlier tick's replay
time (its own ``time`` is kept on the tick): the replay clock never goes back.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from streambot.backtest.sources.decode import DECODE_ERRORS, line_numbers
from streambot.backtest.sources.line_chunks import LineChunks
from streambot.backtest.sources.tally import Tally, Window
from streambot.backtest.sources.ticks import TimedTick, make_ticker
from streambot.domain import Ticker
from streambot.feed.parse import FrameKind, MalformedFrame, invalid_ticker_reason, parse_frame

__all__ = ["FlatTick", "FlatTicker", "read_prices"]

_INF = math.inf
_TICKERS = FrameKind.TICKERS
_FRAME_KEY = b'"events"'


class FlatTick(msgspec.Struct, gc=False):
    """A flat tick line, any form (the slow path: RFC 3339 times, bad lines)."""

    time: float | datetime
    product_id: str
    price: float
    best_bid: float | None = None
    best_ask: float | None = None


class FlatTicker(Ticker, frozen=True, gc=False, kw_only=True):
    """A ``Ticker`` decoded straight from a flat tick line with a numeric ``time``: the fast path,
    one msgspec call per chunk and no second object per tick (building a Ticker from a decoded
    line costs as much as decoding it). Only the wire names and defaults differ from Ticker's:
    ``time`` is read from ``"time"``, the 24 h statistics a flat tick lacks are 0."""

    volume_24h: float = msgspec.field(default=0.0, name="volume_24_h")
    low_24h: float = msgspec.field(default=0.0, name="low_24_h")
    high_24h: float = msgspec.field(default=0.0, name="high_24_h")
    price_change_pct_24h: float = msgspec.field(default=0.0, name="price_percent_chg_24_h")
    time: float = msgspec.field(default=math.nan, name="time")


_decode_fast = msgspec.json.Decoder(FlatTicker, strict=False).decode_lines
_decode_flat = msgspec.json.Decoder(FlatTick, strict=False).decode
_force = msgspec.structs.force_setattr


def _seconds(value: float | datetime) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).timestamp()
    return value


def read_prices(path: Path, window: Window, tally: Tally) -> Iterator[TimedTick]:
    """The ticks of one price file, in file order (see the module's docstring)."""
    name = str(path)
    start, end = window.start, window.end
    products = tally.products
    last = -_INF
    chunks = LineChunks(path)
    for first_line, chunk in chunks:
        ticks: Iterable[TimedTick]
        fast: list[FlatTicker] | None = None
        if _FRAME_KEY not in chunk:
            with contextlib.suppress(*DECODE_ERRORS):
                fast = _decode_fast(chunk)
        if fast is None:
            # Ticker frames, RFC 3339 times or bad lines in this chunk: line by line.
            ticks = _line_by_line(chunk, first_line, name, tally)
        else:
            ticks = _checked(fast, chunk, first_line, name, tally)
        for when, tick in ticks:
            at = when
            if at < last:
                at = last
            else:
                last = at
            if at < start:
                continue
            if at > end:
                return
            products.add(tick.product_id)
            yield at, tick
    if chunks.truncated:
        tally.skip(name, chunks.truncated_line, chunks.truncated)


def _checked(
    ticks: list[FlatTicker], chunk: bytes, first_line: int, name: str, tally: Tally
) -> Iterator[TimedTick]:
    """The decoded flat ticks completed (bid and ask default to the price) and validated."""
    force = _force
    for index, tick in enumerate(ticks):
        price = tick.price
        bid: float | None = tick.best_bid
        ask: float | None = tick.best_ask
        if bid is None:
            force(tick, "best_bid", price)
            bid = price
        if ask is None:
            force(tick, "best_ask", price)
            ask = price
        when = tick.time
        if 0.0 < price < _INF and 0.0 < bid <= ask < _INF and -_INF < when < _INF:
            yield when, tick
        else:
            line = line_numbers(chunk, first_line)[index]
            tally.skip(name, line, _invalid(tick.product_id, price, bid, ask, when))


def _invalid(product: str, price: float, bid: float, ask: float, when: float) -> str:
    if math.isnan(when):
        return f"{product}: no time (UNIX seconds or RFC 3339)"
    if not -_INF < when < _INF:
        return f"{product}: time {when!r} is not a finite number"
    return invalid_ticker_reason(product, price, bid, ask)


def _line_by_line(chunk: bytes, first_line: int, name: str, tally: Tally) -> Iterator[TimedTick]:
    """The slow path: each line on its own, ticker frames through the feed's parser."""
    for number, text in enumerate(chunk.split(b"\n"), first_line):
        if not text.strip():
            continue
        if _FRAME_KEY in text:
            try:
                frame = parse_frame(text, 0)
            except MalformedFrame as exc:
                tally.skip(name, number, str(exc))
                continue
            if frame.kind is not _TICKERS:
                continue
            if frame.rejected:
                tally.skip(name, number, f"{frame.rejected} ticker(s) refused: {frame.rejected_reason}")
            for tick in frame.tickers:
                yield tick.time, tick
            continue
        try:
            flat = _decode_flat(text)
        except DECODE_ERRORS as exc:
            tally.skip(name, number, f"neither a flat tick nor a ticker frame: {exc}")
            continue
        when = _seconds(flat.time)
        price = flat.price
        bid = price if flat.best_bid is None else flat.best_bid
        ask = price if flat.best_ask is None else flat.best_ask
        if not (0.0 < price < _INF and 0.0 < bid <= ask < _INF and -_INF < when < _INF):
            tally.skip(name, number, _invalid(flat.product_id, price, bid, ask, when))
            continue
        yield when, make_ticker(flat.product_id, price, bid, ask, when)
