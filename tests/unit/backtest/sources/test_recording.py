"""Recordings: raw frames with their receive time, through the live feed's parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streambot.backtest.sources import BacktestData, DataSourceError
from tests.unit.backtest.sources.conftest import WriteLines, ticker_frame

T0 = 1767225600.0  # 2026-01-01T00:00:00Z


def recorded(t: float, frame: str) -> str:
    return f'{{"t":{t!r},"frame":{frame}}}'


HEARTBEAT = '{"channel":"heartbeats","timestamp":"x","sequence_num":2,"events":[{"heartbeat_counter":3}]}'
SUBSCRIPTIONS = '{"channel":"subscriptions","events":[{"subscriptions":{"ticker":["BTC-USD"]}}]}'


@pytest.mark.parametrize("compression", ["zstd", "plain", "gzip"])
def test_each_ticker_of_a_frame_is_a_tick_at_the_receive_time(
    tmp_path: Path, lines_file: WriteLines, compression: str
) -> None:
    path = lines_file(
        tmp_path / "feed-20260101T00.jsonl.zst",
        [
            recorded(T0, SUBSCRIPTIONS),
            recorded(T0 + 0.25, ticker_frame("BTC-USD", "97000.5", "2026-01-01T00:00:00.2Z", 4)),
            recorded(T0 + 0.5, HEARTBEAT),
            recorded(T0 + 0.75, ticker_frame("ETH-USD", "3000", "2026-01-01T00:00:00.7Z", 5)),
        ],
        compression,
    )
    data = BacktestData.open([path])
    assert data.kinds == [(str(path), "recording")]
    ticks = list(data.ticks())
    assert [(at, t.product_id, t.price, t.time, t.sequence, t.received_ns) for at, t in ticks] == [
        (T0 + 0.25, "BTC-USD", 97000.5, T0 + 0.2, 4, 0),
        (T0 + 0.75, "ETH-USD", 3000.0, T0 + 0.7, 5, 0),
    ]
    assert data.skipped == []  # heartbeats and subscriptions are not ticks, and not errors
    assert data.products == ["BTC-USD", "ETH-USD"]


def test_malformed_frames_and_lines_are_skipped_with_the_parsers_reason(
    tmp_path: Path, lines_file: WriteLines
) -> None:
    path = lines_file(
        tmp_path / "feed-20260101T00.jsonl",
        [
            recorded(T0, ticker_frame("BTC-USD", "1", "2026-01-01T00:00:00Z")),
            recorded(T0 + 1, '{"no":"channel"}'),
            '{"t": 1767225602, "frame": ',  # a line cut in the middle
            recorded(T0 + 3, ticker_frame("BTC-USD", "-1", "2026-01-01T00:00:03Z")),
            recorded(T0 + 4, ticker_frame("BTC-USD", "2", "2026-01-01T00:00:04Z")),
        ],
    )
    data = BacktestData.open([path])
    assert [at for at, _ in data.ticks()] == [T0, T0 + 4]
    assert [(s.line, s.reason.split(":")[0]) for s in data.skipped] == [
        (2, "frame has neither a channel nor type=error"),
        (3, "not a recorded frame"),
        (4, "1 ticker(s) refused"),
    ]
    assert all(s.file == str(path) for s in data.skipped)


def test_a_truncated_recording_keeps_what_came_before(tmp_path: Path, lines_file: WriteLines) -> None:
    lines = [
        recorded(T0 + i, ticker_frame("BTC-USD", str(100 + i), "2026-01-01T00:00:00Z", i))
        for i in range(5000)
    ]
    path = lines_file(tmp_path / "feed-20260101T00.jsonl.zst", lines, "zstd")
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    data = BacktestData.open([path])
    count = sum(1 for _ in data.ticks())
    assert 0 < count < 5000
    assert [(s.line, "zstd stream ends early" in s.reason) for s in data.skipped] == [(count + 1, True)]


def write_hour(directory: Path, hour: int, lines_file: WriteLines) -> None:
    start = T0 + hour * 3600
    lines = [
        recorded(start + i * 600, ticker_frame("BTC-USD", str(hour * 10 + i + 1), "2026-01-01T00:00:00Z"))
        for i in range(6)
    ]
    lines_file(directory / f"feed-20260101T{hour:02d}.jsonl.zst", lines, "zstd")


def test_a_directory_is_its_recording_files_in_order_within_from_and_to(
    tmp_path: Path, lines_file: WriteLines
) -> None:
    for hour in (2, 0, 1, 5):
        write_hour(tmp_path, hour, lines_file)
    (tmp_path / "index.json").write_text(json.dumps({"files": []}))
    (tmp_path / "notes.txt").write_text("not a recording")
    every = [at for at, _ in BacktestData.open([tmp_path]).ticks()]
    assert every == sorted(every)
    assert len(every) == 24
    start, end = T0 + 3600 + 1200, T0 + 2 * 3600 + 600
    window = [at for at, _ in BacktestData.open([tmp_path], start=start, end=end).ticks()]
    assert window == [at for at in every if start <= at <= end]
    assert window[0] == start
    assert window[-1] == end


def test_a_directory_without_recordings_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataSourceError, match="without recording files"):
        BacktestData.open([tmp_path])
    with pytest.raises(DataSourceError, match="no such file or directory"):
        BacktestData.open([tmp_path / "missing.jsonl.zst"])
    with pytest.raises(DataSourceError, match="is after"):
        BacktestData.open([tmp_path], start=2.0, end=1.0)


@pytest.mark.parametrize("compression", ["zstd", "plain"])
def test_a_long_recording_replays_every_tick_and_names_every_bad_line(
    tmp_path: Path, lines_file: WriteLines, compression: str
) -> None:
    # Long enough for many decode batches: the good ones decoded with their frames in one pass,
    # those holding a line that pass cannot read line by line; both name the right lines.
    two = json.loads(ticker_frame("BTC-USD", "7", "2026-01-01T00:00:00Z", 9))
    two["events"].append(json.loads(ticker_frame("ETH-USD", "8", "2026-01-01T00:00:00Z"))["events"][0])
    special = {
        500: recorded(T0 + 500, HEARTBEAT),
        1000: recorded(T0 + 1000, ticker_frame("BTC-USD", "-1", "2026-01-01T00:00:00Z")),
        1500: recorded(T0 + 1500, '{"channel":"heartbeats","events":[]}'),
        2000: recorded(T0 + 2000, '{"channel":"level2","events":[]}'),
        2500: recorded(T0 + 2500, '{"no":"channel"}'),
        2700: '{"t": 1767228300, "frame": ',
        2900: recorded(T0 + 2900, json.dumps(two, separators=(",", ":"))),
    }
    lines = [
        special.get(i) or recorded(T0 + i, ticker_frame("BTC-USD", str(100 + i), "2026-01-01T00:00:00Z", i))
        for i in range(3000)
    ]
    path = lines_file(tmp_path / "feed-20260101T00.jsonl.zst", lines, compression)
    data = BacktestData.open([path])
    ticks = [(at, tick.product_id, tick.price) for at, tick in data.ticks()]
    expected = [(T0 + i, "BTC-USD", float(100 + i)) for i in range(3000) if i not in special]
    expected.append((T0 + 2900, "BTC-USD", 7.0))
    expected.append((T0 + 2900, "ETH-USD", 8.0))
    assert ticks == sorted(expected, key=lambda tick: tick[0])
    assert [(s.line, s.reason.split(":")[0]) for s in data.skipped] == [
        (1001, "1 ticker(s) refused"),
        (1501, "heartbeats frame without events"),
        (2501, "frame has neither a channel nor type=error"),
        (2701, "not a recorded frame"),
    ]
