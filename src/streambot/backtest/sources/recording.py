"""Recordings of the live feed: ``feed-YYYYMMDDTHH.jsonl.zst`` files, one received frame a line,
``{"t": <receive time, UNIX seconds>, "frame": <the frame exactly as received>}``.

Every frame goes through the live feed's own parser (``feed.parse.parse_frame``), so a replay
reads the bytes the platform read. Each ticker a frame carries is one tick at the frame's receive
time ``t`` (the tick keeps the exchange's time in ``time``). Heartbeats, subscription
acknowledgements and other channels are not ticks and not errors; a frame the parser calls
malformed is a skipped line with the parser's reason, and so is a frame some of whose tickers the
parser refused (the others are replayed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from streambot.backtest.sources.decode import ChunkDecoder, line_numbers
from streambot.backtest.sources.line_chunks import LineChunks
from streambot.backtest.sources.tally import Tally, Window
from streambot.backtest.sources.ticks import TimedTick
from streambot.feed.parse import FrameKind, MalformedFrame, parse_frame

__all__ = ["RECORDING_NAME", "read_recordings", "recording_files"]

RECORDING_NAME = re.compile(r"^feed-(\d{8}T\d{2})\.jsonl(?:\.zst|\.gz)?$")
_HOUR = 3600.0


class RecordedFrame(msgspec.Struct, gc=False):
    t: float
    frame: msgspec.Raw


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
        chunks = LineChunks(path)
        for first_line, chunk in chunks.views():
            records, numbers = _decoder.decode(chunk, first_line, name, tally)
            for index, record in enumerate(records):
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
                    # A view of the frame's bytes, not a copy: msgspec decodes any buffer.
                    frame = parse_frame(memoryview(record.frame), 0)
                except MalformedFrame as exc:
                    line = (numbers or line_numbers(chunk, first_line))[index]
                    tally.skip(name, line, str(exc))
                    continue
                if frame.kind is not _TICKERS:
                    continue
                if frame.rejected:
                    line = (numbers or line_numbers(chunk, first_line))[index]
                    tally.skip(name, line, f"{frame.rejected} ticker(s) refused: {frame.rejected_reason}")
                for tick in frame.tickers:
                    products.add(tick.product_id)
                    yield at, tick
        if chunks.truncated:
            tally.skip(name, chunks.truncated_line, chunks.truncated)
