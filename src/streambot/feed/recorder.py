"""Recording the raw feed: every WebSocket frame with its receive time, zstd JSON lines per UTC hour.

Format (readers are written against exactly this):

- ``DIR/feed-YYYYMMDDTHH.jsonl.zst``, named after the UTC hour of the receive time and rotated when
  that hour changes. Each line is ``{"t":<receive time, UNIX s, 6 decimals>,"frame":<the frame's
  JSON text exactly as received>}`` followed by ``\\n``; raw newline bytes inside a frame become
  spaces (JSON strings cannot hold raw newlines, so the frame means the same). A frame the feed
  found malformed is written as a JSON string of its text instead, so every line is JSON and a
  replay meets the same malformed frame (``parse_frame`` refuses a string). Decode the wrapper
  with ``msgspec.Raw`` for ``frame`` and hand those bytes to ``streambot.feed.parse.parse_frame``.
- The file is a sequence of zstd frames (one about each second, and one at close), so a crash
  loses at most about a second and leaves everything before it readable; decompress across frames
  (``ZstdDecompressor().stream_reader(f, read_across_frames=True)``, or the ``zstd`` command).
  Recording again into the same directory within the same hour appends to that hour's file.
- ``DIR/index.json``: ``{"files": {"feed-….jsonl.zst": {"products": [...], "start": t0, "end": t1,
  "frames": n}}}``, products being those of the file's ticker events; rewritten atomically at each
  rotation, at close and every minute of recording time.

The feed's receive loop only appends ``(t, bytes, parsed frame)`` to a deque (no lock, no I/O); a
writer thread wakes a few times a second, takes the products from the already-parsed frames,
compresses and writes. When the deque is full (the disk is slower than the feed) frames are
dropped and counted rather than slowing trading; when the disk fails the recorder logs once why,
stops recording, and trading goes on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Final

import msgspec
import zstandard

from streambot.clock import Clock
from streambot.domain import Ticker
from streambot.feed.parse import FeedFrame, FrameKind

log = logging.getLogger(__name__)
_encode = msgspec.json.Encoder().encode

INDEX_NAME: Final = "index.json"
FLUSH_EVERY_S: Final = 1.0  # of recording time: a crash loses at most about this much
INDEX_EVERY_S: Final = 60.0
WAKE_EVERY_S: Final = 0.2  # the writer thread's poll of the deque
MAX_PENDING: Final = 200_000  # frames waiting for the writer before new ones are dropped
ZSTD_LEVEL: Final = 3

__all__ = ["FeedRecorder", "RecordedFile", "file_name_for", "read_index"]


def file_name_for(t: float) -> str:
    """The recording file holding frames received at ``t`` (UNIX seconds): its UTC hour."""
    return datetime.fromtimestamp(t, UTC).strftime("feed-%Y%m%dT%H.jsonl.zst")


@dataclass(slots=True)
class RecordedFile:
    """One hour file's index entry."""

    products: set[str] = field(default_factory=set)
    start: float | None = None
    end: float | None = None
    frames: int = 0

    def as_json(self) -> dict[str, object]:
        # Rounded as the lines print ``t``, so the index and the lines agree to the microsecond.
        start = None if self.start is None else round(self.start, 6)
        end = None if self.end is None else round(self.end, 6)
        return {"products": sorted(self.products), "start": start, "end": end, "frames": self.frames}


def read_index(directory: Path) -> dict[str, RecordedFile]:
    """The index of a recording directory (empty if there is none yet)."""
    path = directory / INDEX_NAME
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    return {
        name: RecordedFile(set(entry["products"]), entry["start"], entry["end"], int(entry["frames"]))
        for name, entry in data.get("files", {}).items()
    }


class FeedRecorder:
    """Writes every frame the feed client receives into hourly zstd JSON-lines files."""

    def __init__(self, directory: Path, clock: Clock, *, max_pending: int = MAX_PENDING) -> None:
        self.directory = directory
        self._clock = clock
        self._now = clock.time
        self._max_pending = max_pending  # 0 once recording has failed
        self._pending: deque[tuple[float, bytes | str, Ticker | FeedFrame | None]] = deque()
        try:  # an earlier recording into the same directory stays indexed
            self._files = read_index(directory)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("⚠️ %s is unreadable (%s); a new index is written", directory / INDEX_NAME, exc)
            self._files = {}
        self.frames = 0  # written
        self.touched: set[str] = set()  # files written by this recorder (the index lists earlier ones too)
        self.dropped = 0  # the writer fell behind
        self.failed = ""  # why recording stopped, if it did
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        # Writer-thread state.
        self._name = ""
        self._hour_start = -1.0e18  # UNIX seconds at the start of the current file's hour
        self._raw: IO[bytes] | None = None
        self._writer: zstandard.ZstdCompressionWriter | None = None
        self._last_flush = clock.time()
        self._last_index = clock.time()
        self._unflushed = False

    @property
    def files(self) -> dict[str, RecordedFile]:
        return self._files

    def start(self) -> None:
        """Create the directory, start the writer thread. OSError if the directory cannot be made."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="feed-recorder", daemon=True)
        self._thread.start()
        log.info("⏺️ Recording the feed into %s", self.directory)

    def record(self, data: bytes | str, frame: Ticker | FeedFrame | None) -> None:
        """One frame as received (``frame``: its parse, a lone ``Ticker`` as ``read_frame`` returns
        the usual frame, None when malformed). The hot path: no I/O, no lock; a deque append is
        atomic under the GIL."""
        pending = self._pending
        if len(pending) < self._max_pending:
            pending.append((self._now(), data, frame))
        elif not self.failed:
            self.dropped += 1

    def close(self) -> None:
        """Write what is queued, finish the file, write the index. Blocking: call it from a thread."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    # --- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._closing.wait(WAKE_EVERY_S):
                self._drain()
            self._drain()
            self._close_file()
            self._write_index()
        except Exception as exc:  # the disk (OSError) or the compressor: recording ends, trading not
            self._fail(exc)

    def _drain(self) -> None:
        pending = self._pending
        popleft = pending.popleft
        files = self._files
        tickers = FrameKind.TICKERS
        while pending:
            t, received, frame = popleft()
            data = received if type(received) is bytes else str(received).encode()
            if not self._hour_start <= t < self._hour_start + 3600.0:
                # Another UTC hour (or the first frame): its file. Names are made once an hour.
                self._hour_start = t - t % 3600.0
                name = file_name_for(t)
                if name != self._name:
                    self._rotate(name)
            name = self._name
            assert self._writer is not None
            if frame is None:
                # Malformed (maybe not JSON at all): kept as a JSON string, so the line stays JSON
                # and a replay finds the same malformed frame where the live feed did.
                data = _encode(data.decode("utf-8", "replace"))
            self._writer.write(b'{"t":%.6f,"frame":%b}\n' % (t, data.replace(b"\n", b" ")))
            entry = files[name]
            if entry.start is None:
                entry.start = t
            entry.end = t
            entry.frames += 1
            if isinstance(frame, Ticker):
                entry.products.add(frame.product_id)
            elif frame is not None and frame.kind is tickers:
                for tick in frame.tickers:
                    entry.products.add(tick.product_id)
            self.frames += 1
            self._unflushed = True
        now = self._clock.time()
        if self._unflushed and now - self._last_flush >= FLUSH_EVERY_S:
            # End the zstd frame: everything so far is readable even if the process dies now.
            assert self._writer is not None
            self._writer.flush(zstandard.FLUSH_FRAME)
            self._unflushed = False
            self._last_flush = now
        if now - self._last_index >= INDEX_EVERY_S:
            self._write_index()

    def _rotate(self, name: str) -> None:
        self._close_file()
        self._write_index()
        self._name = name
        self._raw = open(self.directory / name, "ab")  # noqa: SIM115 - closed in _close_file
        self._writer = zstandard.ZstdCompressor(level=ZSTD_LEVEL).stream_writer(self._raw, closefd=False)
        self._files.setdefault(name, RecordedFile())
        self.touched.add(name)

    def _close_file(self) -> None:
        if self._writer is not None:
            # The frame ended, nothing is buffered: the file's own close below finishes it.
            self._writer.flush(zstandard.FLUSH_FRAME)
            self._unflushed = False
            self._writer = None
        if self._raw is not None:
            self._raw.close()
            self._raw = None

    def _write_index(self) -> None:
        body = {"files": {name: entry.as_json() for name, entry in sorted(self._files.items())}}
        temp = self.directory / f".{INDEX_NAME}.tmp"
        temp.write_text(json.dumps(body, indent=1) + "\n")
        os.replace(temp, self.directory / INDEX_NAME)
        self._last_index = self._clock.time()

    def _fail(self, exc: Exception) -> None:
        self.failed = f"{type(exc).__name__}: {exc}"
        self._max_pending = 0
        self._pending.clear()
        log.error(
            "❌ Feed recording stopped: cannot write into %s (%s); trading goes on",
            self.directory,
            self.failed,
        )
        with contextlib.suppress(Exception):
            self._close_file()
        self._writer = None
        self._raw = None
