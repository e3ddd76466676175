"""``streambot download``: public Coinbase candles into one Parquet file per product and timeframe.

Format (readers are written against exactly this): ``DIR/<PRODUCT>-<timeframe>.parquet`` (e.g.
``BTC-USD-1m.parquet``), columns ``product_id`` (string), ``start`` (timestamp[s, tz=UTC]),
``open``, ``high``, ``low``, ``close``, ``volume`` (float64), sorted by ``start``, no duplicates;
schema metadata ``streambot.timeframe`` (e.g. ``1m``), ``streambot.source`` (the REST URL),
``streambot.start`` and ``streambot.end`` (the requested span, UNIX seconds, end exclusive).
Parquet has no seconds unit, so pyarrow stores ``start`` in milliseconds: read it back as
timestamp[s] with ``pq.read_table(path, schema=SCHEMA)`` (or cast), and the metadata with
``pq.read_schema(path).metadata``.

Resumable: the span is cut into pages of 350 candles on a grid fixed in time (page ``k`` covers
``[k·350·s, (k+1)·350·s)``, clipped to the span), and every page fetched is kept as its own small
Parquet file in ``DIR/.partial/<PRODUCT>-<timeframe>/`` (written to a temporary name, then
renamed, so a page is there whole or not at all). A rerun fetches only the pages missing, then
merges every page of the span into the final file. Only closed candles are fetched (the span ends
at the last closed candle at the latest), so a kept page never changes; delete ``.partial`` to
fetch everything again.

Requests go through ``CoinbaseRest.candles`` (the public endpoint without a key) and so through
its rate limiter, retries and circuit breaker. Pages are fetched round by round across products,
so an unknown product is reported on the first round.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from streambot.domain import Candle, Timeframe
from streambot.exchange import ExchangeError
from streambot.venues.coinbase.client import CANDLES_PAGE, MAX_CANDLES_PAGE, CoinbaseRest

log = logging.getLogger(__name__)

PARTIAL_DIR: Final = ".partial"

SCHEMA: Final = pa.schema(
    [
        ("product_id", pa.string()),
        ("start", pa.timestamp("s", tz="UTC")),
        ("open", pa.float64()),
        ("high", pa.float64()),
        ("low", pa.float64()),
        ("close", pa.float64()),
        ("volume", pa.float64()),
    ]
)

__all__ = ["SCHEMA", "CandleDownload", "DownloadPage", "candle_file_name", "download_candles"]


def candle_file_name(product_id: str, timeframe: Timeframe) -> str:
    return f"{product_id}-{timeframe.value}.parquet"


@dataclass(frozen=True, slots=True)
class DownloadPage:
    product_id: str
    start: int  # UNIX seconds, inclusive
    end: int  # exclusive

    @property
    def name(self) -> str:
        return f"{self.start}-{self.end}.parquet"


@dataclass(frozen=True, slots=True)
class CandleDownload:
    """One product's download: where its pages and its file go, and which pages the span has."""

    product_id: str
    timeframe: Timeframe
    start: int
    end: int
    directory: Path

    @property
    def path(self) -> Path:
        return self.directory / candle_file_name(self.product_id, self.timeframe)

    @property
    def partial(self) -> Path:
        return self.directory / PARTIAL_DIR / f"{self.product_id}-{self.timeframe.value}"

    def pages(self) -> list[DownloadPage]:
        width = MAX_CANDLES_PAGE * self.timeframe.seconds
        first = self.start - self.start % width
        return [
            DownloadPage(self.product_id, max(self.start, at), min(self.end, at + width))
            for at in range(first, self.end, width)
        ]

    def missing(self) -> list[DownloadPage]:
        return [page for page in self.pages() if not (self.partial / page.name).is_file()]


Progress = Callable[[str, int], None]  # (product id, candles in the page just fetched)


def _table(product_id: str, candles: Sequence[Candle], metadata: dict[str, str] | None = None) -> pa.Table:
    table = pa.table(
        {
            "product_id": pa.array([product_id] * len(candles), pa.string()),
            "start": pa.array([c.start for c in candles], pa.timestamp("s", tz="UTC")),
            "open": pa.array([c.open for c in candles], pa.float64()),
            "high": pa.array([c.high for c in candles], pa.float64()),
            "low": pa.array([c.low for c in candles], pa.float64()),
            "close": pa.array([c.close for c in candles], pa.float64()),
            "volume": pa.array([c.volume for c in candles], pa.float64()),
        },
        schema=SCHEMA,
    )
    return table.replace_schema_metadata(metadata) if metadata else table


def _too_many_candles(exc: ExchangeError) -> bool:
    return exc.status == 400 and "number of candles" in str(exc)


def _write_atomically(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, temp)
    os.replace(temp, path)


def _merge(download: CandleDownload, source: str) -> int:
    """Every page of the span into the final file (sorted, no duplicates); the candle count."""
    tables = [pq.read_table(download.partial / page.name, schema=SCHEMA) for page in download.pages()]
    merged = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    merged = merged.sort_by("start")
    starts = merged.column("start").cast(pa.int64()).to_numpy()
    if len(starts) > 1:
        keep = [0] + [i for i in range(1, len(starts)) if starts[i] != starts[i - 1]]
        if len(keep) != len(starts):
            merged = merged.take(pa.array(keep))
    metadata = {
        "streambot.timeframe": download.timeframe.value,
        "streambot.source": source,
        "streambot.start": str(download.start),
        "streambot.end": str(download.end),
    }
    _write_atomically(merged.replace_schema_metadata(metadata), download.path)
    return int(merged.num_rows)


async def download_candles(
    client: CoinbaseRest,
    downloads: Sequence[CandleDownload],
    *,
    source: str,
    on_page: Progress | None = None,
) -> dict[str, int]:
    """Fetch the missing pages of every download, round by round, then merge each; candles per product.

    ``ExchangeError`` from the venue (an unknown product, an outage) propagates; the pages fetched
    so far stay for the next run."""
    queues = [download.missing() for download in downloads]
    rounds = max((len(q) for q in queues), default=0)
    per_request = MAX_CANDLES_PAGE
    for index in range(rounds):
        for download, queue in zip(downloads, queues, strict=True):
            if index >= len(queue):
                continue
            page = queue[index]
            product, timeframe = download.product_id, download.timeframe
            try:
                try:
                    candles = await client.candles(product, timeframe, page.start, page.end, page=per_request)
                except ExchangeError as exc:
                    if per_request == CANDLES_PAGE or not _too_many_candles(exc):
                        raise
                    # Coinbase documents 350 per request but has answered "should be less than
                    # 300": from here on each page is fetched in requests of the client's safe size.
                    per_request = CANDLES_PAGE
                    log.warning(
                        "⚠️ The venue refused 350 candles per request; fetching %d at a time", per_request
                    )
                    candles = await client.candles(product, timeframe, page.start, page.end, page=per_request)
            except ExchangeError as exc:
                raise ExchangeError(f"{product}: {exc}", status=exc.status, code=exc.code) from None
            await asyncio.to_thread(
                _write_atomically, _table(download.product_id, candles), download.partial / page.name
            )
            if on_page is not None:
                on_page(download.product_id, len(candles))
    counts: dict[str, int] = {}
    for download in downloads:
        counts[download.product_id] = await asyncio.to_thread(_merge, download, source)
    return counts
