"""Recordings of the live feed: ``feed-YYYYMMDDTHH.jsonl.zst`` files, one received frame a line,
``{"t": <receive time, UNIX seconds>, "frame": <the frame exactly as received>}``.

Every frame goes through the live feed's own parser (``feed.parse``: its decode type and
``read_message``, or ``read_frame`` itself), so a replay reads the bytes the platform read. Each
ticker a frame carries is one tick at the frame's receive time ``t`` (the tick keeps the
exchange's time in ``time``). Heartbeats, subscription acknowledgements and other channels are
not ticks and not errors; a frame the parser calls malformed is a skipped line with the parser's
reason, and so is a frame some of whose tickers the parser refused (the others are replayed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from streambot.backtest.sources.decode import DECODE_ERRORS, ChunkDecoder, line_numbers
from streambot.backtest.sources.line_chunks import Chunk, LineChunks
from streambot.backtest.sources.tally import Tally, Window
from streambot.backtest.sources.ticks import TimedTick
from streambot.domain import Ticker
from streambot.feed.messages import ServerFrame
from streambot.feed.parse import FeedFrame, FrameKind, MalformedFrame, read_frame, read_message

__all__ = ["RECORDING_NAME", "read_recordings", "recording_files"]

RECORDING_NAME = re.compile(r"^feed-(\d{8}T\d{2})\.jsonl(?:\.zst|\.gz)?$")
_HOUR = 3600.0
# Lines decoded per msgspec call: ~70 frames. A whole megabyte at once (~2,300 frames, each a
# few GC-tracked lists) made the decode ~4× slower (cache misses, and the collector walking the
# young objects the big batch keeps alive); from 4 to 128 KiB the cost per frame is flat.
_PIECE_BYTES = 32 * 1024
# Decompressed blocks of 128 KiB rather than LineChunks' megabyte: the block is still in the
# CPU's cache when its lines are decoded (~8% less per frame than a megabyte, measured).
_BLOCK_BYTES = 128 * 1024


class RecordedFrame(msgspec.Struct, gc=False):
    t: float
    frame: msgspec.Raw


class ParsedRecord(msgspec.Struct, gc=False):
    """A line with its frame decoded in the same pass, by the parser's own type (``ServerFrame``,
    lax like the parser's decoder): a chunk of such lines is one msgspec call, with no second
    decode of each frame's bytes. ``read_message`` then does what ``read_frame`` does after its
    decode (completion, validation). A chunk with any line this cannot read (a bad line, an error
    frame, a channel the union does not know) is read as ``RecordedFrame``s instead, each frame
    through ``read_frame``, which names every bad line as before."""

    t: float
    frame: ServerFrame


_parsed_lines = msgspec.json.Decoder(ParsedRecord, strict=False).decode_lines
_decoder = ChunkDecoder(RecordedFrame, lambda exc: f"not a recorded frame: {exc}")
_TICKERS = FrameKind.TICKERS


def recording_files(directory: Path, window: Window) -> list[Path]:
    """The recording files of ``directory`` in name (= time) order, without the hours that lie
    wholly outside ``window``. The hour comes from the file name; one hour of slack on each side
    keeps a frame written just after a rotation."""
    found: list[Path] = []
    for path in sorted(directory.iterdir()):
        match = RECORDING_NAME.match(path.name)
        if match is None or not path.is_file():
            continue
        hour = datetime.strptime(match.group(1), "%Y%m%dT%H").replace(tzinfo=UTC).timestamp()
        if hour + 2 * _HOUR < window.start or hour - _HOUR > window.end:
            continue
        found.append(path)
    return found


def read_recordings(paths: Sequence[Path], window: Window, tally: Tally) -> Iterator[TimedTick]:
    """The ticks of recording files read one after the other (a directory's hours in order).

    A frame received before the previous one (a clock step on the recording machine) is replayed
    at the previous frame's time: the replay clock never goes back."""
    start, end = window.start, window.end
    products = tally.products
    last = -math.inf
    for path in paths:
        name = str(path)
        chunks = LineChunks(path, _BLOCK_BYTES)
        for first_line, chunk in chunks.views(_PIECE_BYTES):
            numbers: list[int] | None = None
            records: Sequence[ParsedRecord | RecordedFrame]
            try:
                records = _parsed_lines(chunk)
                read: Callable[[Any, int], Ticker | FeedFrame] = read_message
            except DECODE_ERRORS:
                records, numbers = _decoder.decode(chunk, first_line, name, tally)
                read = _read_raw
            for record in records:
                at = record.t
                if at < last:
                    at = last
                else:
                    last = at
                if at < start:
                    continue
                if at > end:
                    return
                try:
                    frame = read(record.frame, 0)
                except MalformedFrame as exc:
                    line = _line_of(record, records, numbers, chunk, first_line)
                    tally.skip(name, line, str(exc))
                    continue
                if type(frame) is Ticker:  # the usual frame: one valid ticker
                    products.add(frame.product_id)
                    yield at, frame
                    continue
                assert type(frame) is FeedFrame
                if frame.kind is not _TICKERS:
                    continue
                if frame.rejected:
                    line = _line_of(record, records, numbers, chunk, first_line)
                    tally.skip(name, line, f"{frame.rejected} ticker(s) refused: {frame.rejected_reason}")
                for tick in frame.tickers:
                    products.add(tick.product_id)
                    yield at, tick
        if chunks.truncated:
            tally.skip(name, chunks.truncated_line, chunks.truncated)


def _read_raw(frame: msgspec.Raw, received_ns: int) -> Ticker | FeedFrame:
    # A view of the frame's bytes, not a copy: msgspec decodes any buffer.
    return read_frame(memoryview(frame), received_ns)


def _line_of(
    record: object, records: Sequence[object], numbers: list[int] | None, chunk: Chunk, first_line: int
) -> int:
    """The line number of ``record`` (the rare path that names a line): by identity, as two
    records may be equal."""
    index = next(i for i, other in enumerate(records) if other is record)
    return (numbers or line_numbers(chunk, first_line))[index]
