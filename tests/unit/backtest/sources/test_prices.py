"""JSON-lines price files: flat ticks and ticker frames, plain or compressed, bad lines listed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from streambot.backtest.result import SkippedLine
from streambot.backtest.sources import BacktestData
from streambot.domain import Ticker
from tests.unit.backtest.sources.conftest import WriteLines, flat, ticker_frame

T0 = 1767225600.0


@pytest.mark.parametrize("compression", ["plain", "gzip", "zstd"])
def test_flat_ticks_read_the_same_plain_or_compressed(
    tmp_path: Path, lines_file: WriteLines, compression: str
) -> None:
    path = lines_file(
        tmp_path / "prices.data",  # the name says nothing: the content decides
        [flat(T0, "BTC-USD", "97000.01", "97000", "97000.02"), "", flat(T0 + 0.5, "ETH-USD", "3000")],
        compression,
    )
    data = BacktestData.open([path])
    ticks = list(data.ticks())
    assert [at for at, _ in ticks] == [T0, T0 + 0.5]
    first, second = ticks[0][1], ticks[1][1]
    assert isinstance(first, Ticker)
    assert (first.product_id, first.price, first.best_bid, first.best_ask) == (
        "BTC-USD",
        97000.01,
        97000.0,
        97000.02,
    )
    assert (first.time, first.received_ns, first.sequence) == (T0, 0, -1)
    assert second.best_bid == second.best_ask == 3000.0  # no book: bid and ask are the price
    assert data.products == ["BTC-USD", "ETH-USD"]
    assert data.skipped == []
    assert not data.candle_derived
    assert data.kinds == [(str(path), "prices")]


def test_ticker_frames_and_rfc3339_times_mix_with_flat_ticks(tmp_path: Path, lines_file: WriteLines) -> None:
    stamp = "2026-01-01T00:00:01.250000Z"
    heartbeat = '{"channel":"heartbeats","timestamp":"x","sequence_num":2,"events":[{"heartbeat_counter":3}]}'
    path = lines_file(
        tmp_path / "mixed.jsonl",
        [
            flat("2026-01-01T00:00:00Z", "BTC-USD", "1"),
            ticker_frame("ETH-USD", "2", stamp, sequence=7),
            heartbeat,  # not a tick, not an error
            flat("2026-01-01T00:00:02", "BTC-USD", "3"),  # no zone: UTC
        ],
    )
    data = BacktestData.open([path])
    ticks = list(data.ticks())
    t1 = datetime(2026, 1, 1, 0, 0, 1, 250000, UTC).timestamp()
    assert [(at, t.product_id, t.price, t.sequence) for at, t in ticks] == [
        (T0, "BTC-USD", 1.0, -1),
        (t1, "ETH-USD", 2.0, 7),
        (T0 + 2, "BTC-USD", 3.0, -1),
    ]
    assert ticks[1][1].time == t1
    assert data.skipped == []


def test_corrupt_lines_are_skipped_with_file_line_and_reason(tmp_path: Path, lines_file: WriteLines) -> None:
    path = lines_file(
        tmp_path / "bad.jsonl",
        [
            flat(T0, "BTC-USD", "1"),
            "not json at all",
            '{"time": 1767225601, "price": "1"}',
            flat(T0 + 2, "BTC-USD", "-5"),
            flat(T0 + 3, "BTC-USD", "10", "11", "9"),
            '{"channel":"ticker","timestamp":"2026-01-01T00:00:00Z","events":"nope"}',
            flat(T0 + 4, "BTC-USD", "2"),
        ],
    )
    data = BacktestData.open([path])
    assert [at for at, _ in data.ticks()] == [T0, T0 + 4]
    name = str(path)
    assert [(s.file, s.line) for s in data.skipped] == [(name, 2), (name, 3), (name, 4), (name, 5), (name, 6)]
    reasons = [s.reason for s in data.skipped]
    assert "neither a flat tick nor a ticker frame" in reasons[0]
    assert "product_id" in reasons[1]
    assert "price -5.0 is not a positive finite number" in reasons[2]
    assert "best bid 11.0 above best ask 9.0" in reasons[3]
    assert "bad ticker frame" in reasons[4]


def test_a_bad_price_in_a_clean_chunk_names_its_line(tmp_path: Path, lines_file: WriteLines) -> None:
    """The fast path (one decode per chunk) still names the line, blank lines counted."""
    path = lines_file(
        tmp_path / "p.jsonl",
        [
            flat(T0, "BTC-USD", "1"),
            "",
            "",
            flat(T0 + 1, "BTC-USD", "0"),
            '{"product_id": "BTC-USD", "price": 2}',
        ],
    )
    data = BacktestData.open([path])
    assert len(list(data.ticks())) == 1
    assert data.skipped == [
        SkippedLine(str(path), 4, "BTC-USD: price 0.0 is not a positive finite number"),
        SkippedLine(str(path), 5, "BTC-USD: no time (UNIX seconds or RFC 3339)"),
    ]


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_a_truncated_compressed_file_is_one_skipped_entry(
    tmp_path: Path, lines_file: WriteLines, compression: str
) -> None:
    # Enough lines for several compressed blocks: what lies before the cut can be read.
    lines = [flat(T0 + i, "BTC-USD", f"{100 + i}") for i in range(20_000)]
    path = lines_file(tmp_path / "cut.jsonl", lines, compression)
    data_bytes = path.read_bytes()
    path.write_bytes(data_bytes[: len(data_bytes) * 2 // 3])
    data = BacktestData.open([path])
    ticks = list(data.ticks())
    assert 0 < len(ticks) < 20_000
    assert [at for at, _ in ticks] == [T0 + i for i in range(len(ticks))]  # what came before is kept
    assert len(data.skipped) == 1
    skipped = data.skipped[0]
    assert skipped.file == str(path)
    assert skipped.line == len(ticks) + 1  # the line the truncation cut
    assert f"{compression} stream ends early" in skipped.reason


def test_time_going_back_is_replayed_at_the_last_time(tmp_path: Path, lines_file: WriteLines) -> None:
    path = lines_file(
        tmp_path / "p.jsonl",
        [flat(T0 + 5, "BTC-USD", "1"), flat(T0 + 3, "BTC-USD", "2"), flat(T0 + 6, "BTC-USD", "3")],
    )
    ticks = list(BacktestData.open([path]).ticks())
    assert [at for at, _ in ticks] == [T0 + 5, T0 + 5, T0 + 6]  # the clock never goes back
    assert [t.time for _, t in ticks] == [T0 + 5, T0 + 3, T0 + 6]  # the tick keeps its own time


def test_invalid_utf8_and_deep_nesting_are_skipped_lines(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    good = flat(T0 + 1, "BTC-USD", "1").encode()
    path.write_bytes(
        b'{"time": 1767225600, "product_id": "BTC-\xff", "price": "1"}\n'
        + good
        + b"\n"
        + b"[" * 100_000
        + b"\n"
    )
    data = BacktestData.open([path])
    assert [at for at, _ in data.ticks()] == [T0 + 1]
    assert [s.line for s in data.skipped] == [1, 3]
    assert "utf-8" in data.skipped[0].reason


def test_the_same_ticks_plain_gzip_or_zstd(tmp_path: Path, lines_file: WriteLines) -> None:
    stamp = "2026-01-01T00:00:05Z"
    lines = [flat(T0 + i * 0.1, "BTC-USD", f"{100 + i}.5") for i in range(3000)]
    lines[1500] = "garbage"
    lines[2000] = ticker_frame("ETH-USD", "7", stamp)
    results = []
    for compression in ("plain", "gzip", "zstd"):
        data = BacktestData.open([lines_file(tmp_path / compression, lines, compression)])
        ticks = list(data.ticks())
        results.append((ticks, [(s.line, s.reason) for s in data.skipped], data.products))
    assert results[0] == results[1] == results[2]
    assert len(results[0][0]) == 2999
