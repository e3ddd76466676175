"""A file of JSON lines (plain, gzip or zstd) read as whole lines in chunks of about a megabyte.

Chunks rather than lines: the readers decode a chunk's lines with one msgspec call, which is most
of what makes them fast, and memory stays flat whatever the file's size. Compression is told by
the first bytes (zstd ``28 b5 2f fd``, gzip ``1f 8b``), not by the name.

A compressed file that ends early (a recording cut off by a crash, a partial copy) is not fatal:
what was decompressed is used, the incomplete last line is dropped, and the chunk iterator
reports the truncation once through ``LineChunks.truncated`` for the reader to list as a skipped
line.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, cast

import numpy as np
import zstandard

__all__ = ["CHUNK_BYTES", "Chunk", "LineChunks", "compression_of"]

Chunk = bytes | memoryview

CHUNK_BYTES = 1 << 20
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_GZIP_MAGIC = b"\x1f\x8b"


def compression_of(path: Path) -> str:
    """``"zstd"``, ``"gzip"`` or ``"plain"``, from the file's first bytes."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(_ZSTD_MAGIC):
        return "zstd"
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    return "plain"


class LineChunks:
    """Iterate ``(first_line_number, chunk)``: each chunk holds whole lines (the last one ending
    in a newline, except at the end of the file). ``views()`` gives the same chunks as
    ``memoryview``s of the decompressed blocks where it can, without a copy (for readers that
    only hand them to msgspec). ``truncated`` names the problem, and ``truncated_line`` the line
    it cut, once the iteration has met a compressed stream that ends early or is corrupt."""

    __slots__ = ("_chunk_bytes", "_piece_bytes", "_views", "path", "truncated", "truncated_line")

    def __init__(self, path: Path, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.path = path
        self._chunk_bytes = chunk_bytes
        self._views = False
        self._piece_bytes = 0
        self.truncated = ""
        self.truncated_line = 0

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        self._views = False
        return cast("Iterator[tuple[int, bytes]]", self._read())

    def views(self, piece_bytes: int = 0) -> Iterator[tuple[int, Chunk]]:
        """With ``piece_bytes``, a block's whole lines come as several views of about that size
        (whole lines each; a longer line is a view of its own): for a reader that decodes a chunk
        into many objects at once, whose objects then still fit the CPU's caches."""
        self._views = True
        self._piece_bytes = piece_bytes
        return self._read()

    def _read(self) -> Iterator[tuple[int, Chunk]]:
        compression = compression_of(self.path)
        with self.path.open("rb") as raw:
            if compression == "zstd":
                yield from self._zstd(raw)
            elif compression == "gzip":
                yield from self._gzip(raw)
            else:
                yield from self._lines(iter(lambda: raw.read(self._chunk_bytes), b""))

    def _lines(self, blocks: Iterator[bytes], *, what: str = "") -> Iterator[tuple[int, Chunk]]:
        """Whole lines out of arbitrary blocks; ``what`` names the compression for the truncation
        message (the block iterator raises ``_Truncated`` when its stream breaks).

        Each block gives at most two chunks: the line begun in the blocks before it, completed,
        and then the block's own whole lines (a view when ``views`` is set: no copy at all)."""
        views = self._views
        piece = self._piece_bytes if views else 0
        line = 1
        rest = b""
        try:
            for block in blocks:
                cut = block.rfind(b"\n") + 1
                if cut == 0:
                    rest += block  # no line ends in this block
                    continue
                head = 0
                if rest:
                    head = block.find(b"\n") + 1
                    yield line, rest + block[:head]
                    line += 1
                if piece:
                    view = memoryview(block)
                    while head < cut:
                        stop = cut
                        if head + piece < cut:
                            # The piece's last line end; a line longer than a piece, whole.
                            stop = block.rfind(b"\n", head, head + piece) + 1
                            stop = stop or block.find(b"\n", head + piece) + 1
                        yield line, view[head:stop]
                        line += _newlines(block, head, stop)
                        head = stop
                elif head < cut:
                    yield line, memoryview(block)[head:cut] if views else block[head:cut]
                    line += _newlines(block, head, cut)
                rest = block[cut:]
        except _Truncated as exc:
            # The incomplete last line (if any) is part of what the truncation cost.
            self.truncated = f"{what} stream ends early or is corrupt ({exc}); the rest is lost"
            self.truncated_line = line
            return
        if rest:
            yield line, rest

    def _zstd(self, raw: BinaryIO) -> Iterator[tuple[int, Chunk]]:
        decompressor = zstandard.ZstdDecompressor()
        return self._lines(self._frames(raw, decompressor.decompressobj, zstandard.ZstdError), what="zstd")

    def _gzip(self, raw: BinaryIO) -> Iterator[tuple[int, Chunk]]:
        # zlib rather than GzipFile: a stream cut short still gives up everything before the cut.
        return self._lines(self._frames(raw, lambda: zlib.decompressobj(wbits=31), zlib.error), what="gzip")

    def _frames(
        self, raw: BinaryIO, new: Callable[[], _Decompressor], error: type[Exception]
    ) -> Iterator[bytes]:
        """Decompressed blocks of a file of one or more frames (zstd frames, gzip members): the
        recorder flushes frames as it goes, so a file holds many. An unfinished frame at the end
        of the file, or a corrupt one, raises ``_Truncated`` after all that came before it."""
        obj = new()
        in_frame = False  # part of a frame fed to obj, its end not yet seen
        while True:
            # A 16th: market data compresses about tenfold, so what comes out is about a chunk.
            compressed = raw.read(self._chunk_bytes // 16)
            if not compressed:
                if in_frame:
                    raise _Truncated("the last frame is incomplete")
                return
            while compressed:
                in_frame = True
                try:
                    out = obj.decompress(compressed)
                except error as exc:
                    raise _Truncated(str(exc)) from None
                if out:
                    yield out
                if obj.eof:
                    compressed = obj.unused_data
                    obj = new()
                    in_frame = False
                else:
                    compressed = b""


_NEWLINE = ord("\n")
_VECTOR_COUNT_BYTES = 4096


def _newlines(block: bytes, start: int, stop: int) -> int:
    """The newlines of ``block[start:stop]``. ``bytes.count`` of one byte goes a byte at a time
    (~0.13 µs per 450-byte line, a tenth of a recorded frame's whole read); numpy's vector
    compare counts a long range ~3.5× faster, and a short one slower (its fixed cost)."""
    if stop - start < _VECTOR_COUNT_BYTES:
        return block.count(b"\n", start, stop)
    view = np.frombuffer(block, np.uint8, stop - start, start)
    return int(np.count_nonzero(view == _NEWLINE))


class _Decompressor(Protocol):
    def decompress(self, data: bytes, /) -> bytes: ...

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...


class _Truncated(Exception):
    pass
