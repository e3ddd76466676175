"""Parquet candle files (``streambot download``): ``DIR/<PRODUCT>-<timeframe>.parquet`` with
columns ``product_id``, ``start`` (timestamp[s, UTC]), ``open``, ``high``, ``low``, ``close``,
``volume`` and the timeframe in the schema metadata ``streambot.timeframe``.

Candles hold no ticks, so each is expanded into four along a fixed path, T the timeframe:

====================  ================================  ================================
replay time           close ≥ open (it dipped, rose)    close < open (it rose, fell)
====================  ================================  ================================
start                 open                              open
start + T/3           low                               high
start + 2T/3          high                              low
start + T − 1 ms      close                             close
====================  ================================  ================================

Candles carry no spread either: every tick's bid and ask are its price, so market orders fill at
the path's prices with no spread cost. A run that used candles says so (``candle_derived``).
Files are read one record batch at a time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from streambot.backtest.sources.tally import Tally, Window
from streambot.backtest.sources.ticks import TimedTick, make_ticker
from streambot.domain import Timeframe

__all__ = ["TIMEFRAME_KEY", "read_candles"]

TIMEFRAME_KEY = b"streambot.timeframe"
_COLUMNS = ["product_id", "start", "open", "high", "low", "close"]
_BATCH_ROWS = 65_536
_INF = math.inf
_PER_SECOND = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


class CandleFileError(ValueError):
    """A Parquet file that is not a candle file (names the file and what is wrong)."""


def _timeframe(path: Path, schema: pa.Schema) -> Timeframe:
    metadata = schema.metadata or {}
    raw = metadata.get(TIMEFRAME_KEY)
    if raw is None:
        raise CandleFileError(f"{path}: no {TIMEFRAME_KEY.decode()} in the schema metadata")
    try:
        return Timeframe(raw.decode())
    except ValueError:
        known = ", ".join(t.value for t in Timeframe)
        raise CandleFileError(
            f"{path}: timeframe {raw.decode(errors='replace')!r} is not one of {known}"
        ) from None


def read_candles(path: Path, window: Window, tally: Tally) -> Iterator[TimedTick]:
    """Four ticks per candle, in row order (rows are in time order; a row earlier than the one
    before it is replayed at that one's last time: the replay clock never goes back). A file
    that is not a readable candle file is one skipped entry (line 0); a bad row is one skipped
    entry naming the row (1-based) as its line."""
    name = str(path)
    tally.candle_derived = True
    try:
        parquet = pq.ParquetFile(path)
        timeframe = _timeframe(path, parquet.schema_arrow)
        missing = [c for c in _COLUMNS if c not in parquet.schema_arrow.names]
        if missing:
            raise CandleFileError(f"{path}: missing column(s) {', '.join(missing)}")
    except (OSError, pa.ArrowException, CandleFileError) as exc:
        tally.skip(name, 0, f"not a readable candle file: {exc}")
        return
    start_type = parquet.schema_arrow.field("start").type
    # The format says seconds; a file written in another unit is read in that unit.
    per_second = _PER_SECOND.get(getattr(start_type, "unit", "s"), 1)
    span = float(timeframe.seconds)
    third, two_thirds, close_at = span / 3, 2 * span / 3, span - 0.001
    start, end = window.start, window.end
    products = tally.products
    last = -_INF
    row = 0
    try:
        for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=_COLUMNS):
            starts = batch.column("start").cast(pa.int64()).to_pylist()
            columns = zip(
                batch.column("product_id").to_pylist(),
                starts,
                batch.column("open").to_pylist(),
                batch.column("high").to_pylist(),
                batch.column("low").to_pylist(),
                batch.column("close").to_pylist(),
                strict=True,
            )
            for product, begin, o, h, lo, c in columns:
                row += 1
                reason = _bad_candle(product, begin, o, h, lo, c)
                if reason:
                    tally.skip(name, row, reason)
                    continue
                t0 = begin / per_second if per_second != 1 else float(begin)
                if t0 + close_at < start:
                    continue
                if t0 > end:
                    return
                products.add(product)
                second, third_price = (lo, h) if c >= o else (h, lo)
                for offset, price in ((0.0, o), (third, second), (two_thirds, third_price), (close_at, c)):
                    at = when = t0 + offset
                    if at < last:
                        at = last
                    else:
                        last = at
                    if at < start:
                        continue
                    if at > end:
                        return
                    yield at, make_ticker(product, price, price, price, when)
    except (OSError, pa.ArrowException) as exc:
        tally.skip(name, row + 1, f"unreadable candle data: {exc}")


def _bad_candle(
    product: str | None,
    begin: int | None,
    o: float | None,
    h: float | None,
    lo: float | None,
    c: float | None,
) -> str:
    if not product:
        return "no product_id"
    if begin is None:
        return f"{product}: no start"
    if o is None or h is None or lo is None or c is None:
        return f"{product}: a price is missing"
    if not all(0.0 < p < _INF for p in (o, h, lo, c)):
        return f"{product}: open/high/low/close {o!r}/{h!r}/{lo!r}/{c!r} not all positive finite numbers"
    if not (lo <= min(o, c) and h >= max(o, c)):
        return f"{product}: low {lo!r} / high {h!r} do not bound open {o!r} and close {c!r}"
    return ""
