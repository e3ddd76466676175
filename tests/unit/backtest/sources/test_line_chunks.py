"""Whole lines in chunks, whatever the block boundaries, with the right line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from streambot.backtest.sources.line_chunks import LineChunks, compression_of
from tests.unit.backtest.sources.conftest import WriteLines


@pytest.mark.parametrize("compression", ["plain", "gzip", "zstd"])
@pytest.mark.parametrize("chunk_bytes", [16, 64, 1 << 20])
def test_chunks_hold_whole_lines_numbered_from_one(
    tmp_path: Path, lines_file: WriteLines, compression: str, chunk_bytes: int
) -> None:
    lines = [f"line {i} " + "x" * (i % 37) for i in range(500)]
    path = lines_file(tmp_path / "f", lines, compression)
    assert compression_of(path) == compression
    for chunks in (LineChunks(path, chunk_bytes), LineChunks(path, chunk_bytes).views()):
        seen: list[str] = []
        for first, chunk in chunks:
            assert first == len(seen) + 1
            text = bytes(chunk).decode()
            assert text.endswith("\n")
            seen.extend(text.splitlines())
        assert seen == lines


def test_a_last_line_without_a_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a\nb")
    assert [(first, bytes(chunk)) for first, chunk in LineChunks(path)] == [(1, b"a\n"), (2, b"b")]


@pytest.mark.parametrize("compression", ["plain", "zstd"])
@pytest.mark.parametrize("piece_bytes", [1, 40, 1000])
def test_views_in_pieces_hold_whole_lines_numbered_from_one(
    tmp_path: Path, lines_file: WriteLines, compression: str, piece_bytes: int
) -> None:
    # Some lines longer than a piece of 40 bytes: such a line is a piece of its own.
    lines = [f"line {i} " + "x" * (i % 53) for i in range(2000)]
    path = lines_file(tmp_path / "f", lines, compression)
    seen: list[str] = []
    for first, chunk in LineChunks(path, 4096).views(piece_bytes):
        assert first == len(seen) + 1
        text = bytes(chunk).decode()
        assert text.endswith("\n")
        assert len(chunk) <= piece_bytes or text.count("\n") == 1
        seen.extend(text.splitlines())
    assert seen == lines
