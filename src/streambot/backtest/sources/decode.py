"""Decode a chunk of JSON lines into typed values: all at once when every line is good, line by
line (listing the bad ones) when not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

import msgspec

from streambot.backtest.sources.line_chunks import Chunk
from streambot.backtest.sources.tally import Tally

__all__ = ["DECODE_ERRORS", "ChunkDecoder", "line_numbers"]

DECODE_ERRORS = (msgspec.DecodeError, UnicodeDecodeError, RecursionError)
"""What a msgspec decode of bad bytes raises: invalid UTF-8 inside a string and nesting too deep
for the decoder are not ``DecodeError``s."""

T = TypeVar("T")


def line_numbers(chunk: Chunk, first_line: int) -> list[int]:
    """The number of every non-blank line of ``chunk`` (the lines ``decode_lines`` returns), for
    the rare path that has to name a line."""
    return [first_line + i for i, text in enumerate(bytes(chunk).split(b"\n")) if text.strip()]


class ChunkDecoder(Generic[T]):
    """``decode(chunk, first_line, file, tally)`` → the chunk's values and, when some line was bad
    (and listed as skipped), the line number of each value; None when all were good (the caller
    computes numbers with ``line_numbers`` only if it needs one)."""

    __slots__ = ("_describe", "_lines", "_one")

    def __init__(self, kind: type[T], describe: Callable[[Exception], str]) -> None:
        decoder = msgspec.json.Decoder(kind, strict=False)
        self._lines = decoder.decode_lines
        self._one = decoder.decode
        self._describe = describe

    def decode(
        self, chunk: Chunk, first_line: int, file: str, tally: Tally
    ) -> tuple[list[T], list[int] | None]:
        try:
            return self._lines(chunk), None
        except DECODE_ERRORS:
            pass
        values: list[T] = []
        numbers: list[int] = []
        for number, text in enumerate(bytes(chunk).split(b"\n"), first_line):
            if not text.strip():
                continue
            try:
                values.append(self._one(text))
            except DECODE_ERRORS as exc:
                tally.skip(file, number, self._describe(exc))
                continue
            numbers.append(number)
        return values, numbers
