"""The market data of a backtest: every ``--data`` path read as one stream of ticks in time order.

Each path is read by its content, not its name: a directory is a recording (its
``feed-YYYYMMDDTHH.jsonl[.zst|.gz]`` files in name order); a file starting with Parquet's magic is
a candle file; any other file (plain, gzip or zstd, told by its first bytes) is a recording when
its first readable line is ``{"t": …, "frame": …}`` and a price file (flat ticks or ticker frames)
otherwise. Files are streamed chunk by chunk, never loaded whole.

Several paths are merged by replay time; ties keep the order of the paths, then each file's own
order, so a run is deterministic. Within one path the replay time never goes back: a line earlier
than the one before it is replayed at that one's time (see the readers).
"""

from __future__ import annotations

import enum
import heapq
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import msgspec

from streambot.backtest.result import SkippedLine
from streambot.backtest.sources.candles import read_candles
from streambot.backtest.sources.decode import DECODE_ERRORS
from streambot.backtest.sources.line_chunks import LineChunks
from streambot.backtest.sources.prices import read_prices
from streambot.backtest.sources.recording import read_recordings, recording_files
from streambot.backtest.sources.tally import Tally, Window
from streambot.backtest.sources.ticks import TimedTick

__all__ = ["BacktestData", "DataSourceError", "SourceKind"]

_PARQUET_MAGIC = b"PAR1"
_PROBE_LINES = 100


class DataSourceError(ValueError):
    """A ``--data`` path that cannot be read at all (missing, empty directory…): names the path."""


class SourceKind(enum.StrEnum):
    """What a --data path holds."""

    RECORDING = "recording"
    CANDLES = "candles"
    PRICES = "prices"


class _Probe(msgspec.Struct, gc=False):
    t: float | None = None
    frame: msgspec.Raw = msgspec.Raw(b"")  # Raw cannot be in a union; empty when absent


_probe = msgspec.json.Decoder(_Probe).decode


@dataclass(frozen=True, slots=True)
class _Source:
    path: str  # as given
    kind: SourceKind
    files: tuple[Path, ...]


def _span_of(source: _Source) -> tuple[float, float] | None:
    try:
        if source.kind is SourceKind.RECORDING:
            spans: list[tuple[float, float]] = []
            for folder in {path.parent for path in source.files}:
                index = msgspec.json.decode((folder / "index.json").read_bytes())
                for name, entry in index.get("files", {}).items():
                    if folder / name in source.files:
                        spans.append((float(entry["start"]), float(entry["end"])))
            return (min(s for s, _ in spans), max(e for _, e in spans)) if spans else None
        if source.kind is SourceKind.CANDLES:
            import pyarrow.parquet as pq

            column = pq.read_table(source.files[0], columns=["start"]).column("start")
            first, last = column[0].as_py(), column[-1].as_py()
            return (first.timestamp(), last.timestamp() + 60)
    except (OSError, ValueError, KeyError, TypeError, IndexError, msgspec.DecodeError):
        return None
    return None


def _kind_of_file(path: Path) -> SourceKind:
    with path.open("rb") as handle:
        if handle.read(4) == _PARQUET_MAGIC:
            return SourceKind.CANDLES
    seen = 0
    for _, chunk in LineChunks(path, chunk_bytes=64 * 1024):
        for text in chunk.split(b"\n"):
            if not text.strip():
                continue
            try:
                probe = _probe(text)
            except DECODE_ERRORS:
                seen += 1
                if seen >= _PROBE_LINES:
                    return SourceKind.PRICES
                continue
            if probe.t is not None and len(probe.frame) > 0:
                return SourceKind.RECORDING
            return SourceKind.PRICES
        break  # the first chunk decides
    return SourceKind.PRICES


def _by_file_and_line(skipped: SkippedLine) -> tuple[str, int]:
    return skipped.file, skipped.line


class BacktestData:
    """Ticks from any number of ``--data`` paths, in replay-time order.

    >>> data = BacktestData.open(["rec/", "ETH-USD-1m.parquet"], start=1767225600.0)
    >>> for at, tick in data.ticks():   # at: the replay time; tick: a domain.Ticker
    ...     clock.advance(at)
    >>> data.skipped, data.candle_derived, data.products   # complete once ticks() is exhausted

    ``ticks()`` may be called again: each call reads the files from the start and refills
    ``skipped``, ``products`` and ``candle_derived``. Reading is synchronous file work done in
    steps of about a megabyte of decompressed data (a few milliseconds), so a backtest's own
    loop may pull ticks between its steps; a server runs backtests in another process anyway.
    """

    __slots__ = ("_sources", "_tally", "window")

    def __init__(self, sources: Sequence[_Source], window: Window) -> None:
        self._sources = tuple(sources)
        self.window = window
        self._tally = Tally()

    @classmethod
    def open(
        cls, paths: Sequence[str | Path], start: float | None = None, end: float | None = None
    ) -> BacktestData:
        """Check every path and tell what it holds; nothing is read beyond a first line yet.
        ``start``/``end`` (UNIX seconds, inclusive) keep the ticks whose replay time lies between.
        Raises ``DataSourceError`` for a missing path, a directory without recording files, or
        ``start`` after ``end``."""
        if not paths:
            raise DataSourceError("no --data path given")
        window = Window(-math.inf if start is None else start, math.inf if end is None else end)
        if window.start > window.end:
            raise DataSourceError(f"--from {start} is after --to {end}")
        sources: list[_Source] = []
        for given in paths:
            path = Path(given)
            if path.is_dir():
                files = recording_files(path, window)
                if not files and not any(recording_files(path, Window())):
                    raise DataSourceError(f"{given}: a directory without recording files (feed-*.jsonl.zst)")
                sources.append(_Source(str(given), SourceKind.RECORDING, tuple(files)))
            elif path.is_file():
                sources.append(_Source(str(given), _kind_of_file(path), (path,)))
            elif path.exists():
                raise DataSourceError(f"{given}: neither a file nor a directory")
            else:
                raise DataSourceError(f"{given}: no such file or directory")
        return cls(sources, window)

    def span_hint(self) -> tuple[float, float] | None:
        """The data's time span as far as it can be known without reading it (a recording's
        index.json, a candle file's Parquet statistics), clipped to the window; None when a path
        gives no hint (plain JSON lines). For a progress bar's ETA, not for the replay."""
        starts: list[float] = []
        ends: list[float] = []
        for source in self._sources:
            span = _span_of(source)
            if span is None:
                return None
            starts.append(span[0])
            ends.append(span[1])
        if not starts:
            return None
        start = max(min(starts), self.window.start)
        end = min(max(ends), self.window.end)
        return (start, end) if end > start else None

    @property
    def kinds(self) -> list[tuple[str, SourceKind]]:
        """``(path, kind)`` for each path as given: recording, candles or prices."""
        return [(source.path, source.kind) for source in self._sources]

    @property
    def skipped(self) -> list[SkippedLine]:
        """Every line skipped so far (file, line number, reason), by file and line."""
        return sorted(self._tally.skipped, key=_by_file_and_line)

    @property
    def candle_derived(self) -> bool:
        """Whether some ticks were expanded from candles."""
        return self._tally.candle_derived

    @property
    def products(self) -> list[str]:
        """The products of the ticks read so far, sorted."""
        return sorted(self._tally.products)

    def ticks(self) -> Iterator[TimedTick]:
        """``(at, tick)`` in replay-time order, ``at`` within the window."""
        self._tally = tally = Tally()
        streams = [self._stream(source, tally) for source in self._sources]
        if len(streams) == 1:
            return streams[0]
        # heapq.merge is stable: equal keys come out in the order of the streams.
        return heapq.merge(*streams, key=itemgetter(0))

    def _stream(self, source: _Source, tally: Tally) -> Iterator[TimedTick]:
        if source.kind == SourceKind.RECORDING:
            return read_recordings(source.files, self.window, tally)
        if source.kind == SourceKind.CANDLES:
            return read_candles(source.files[0], self.window, tally)
        return read_prices(source.files[0], self.window, tally)
