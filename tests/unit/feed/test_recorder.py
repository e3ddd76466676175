"""FeedRecorder: the file format, hourly rotation on the clock's time, the index, appending, a bad disk."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
import zstandard

from streambot.clock import ManualClock
from streambot.feed.parse import MalformedFrame, parse_frame
from streambot.feed.recorder import FeedRecorder, file_name_for, read_index

START = datetime(2026, 1, 1, 0, 59, 58, tzinfo=UTC)


class Line(msgspec.Struct):
    t: float
    frame: msgspec.Raw


def ticker(product: str, price: str, seq: int) -> bytes:
    return (
        b'{"channel":"ticker","timestamp":"2026-01-01T00:59:58.000001Z","sequence_num":%d,'
        b'"events":[{"type":"update","tickers":[{"type":"ticker","product_id":"%s","price":"%s",'
        b'"best_bid":"%s","best_ask":"%s","volume_24_h":"1","low_24_h":"1","high_24_h":"1",'
        b'"price_percent_chg_24_h":"0"}]}]}'
        % (seq, product.encode(), price.encode(), price.encode(), price.encode())
    )


HEARTBEAT = (
    b'{"channel":"heartbeats","timestamp":"2026-01-01T00:59:58Z","sequence_num":1,\n'
    b'"events":[{"current_time":"x","heartbeat_counter":4}]}'
)


def lines_of(path: Path) -> list[Line]:
    with path.open("rb") as raw:
        text = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True).read()
    decode = msgspec.json.Decoder(Line).decode
    return [decode(line) for line in io.BytesIO(text).read().splitlines()]


def test_frames_rotate_on_the_hour_and_the_index_lists_each_file(tmp_path: Path) -> None:
    clock = ManualClock(START)
    recorder = FeedRecorder(tmp_path, clock)
    recorder.start()
    first = ticker("BTC-USD", "100.5", 1)
    recorder.record(first, parse_frame(first, 0))
    recorder.record(HEARTBEAT, parse_frame(HEARTBEAT, 0))
    recorder.record(b"not json", None)
    clock.advance(clock.monotonic() + 2.5)  # 01:00:00.5: the next hour
    second = ticker("ETH-USD", "3000", 2)
    recorder.record(second, parse_frame(second, 0))
    recorder.close()

    assert recorder.failed == ""
    assert recorder.frames == 4
    names = sorted(p.name for p in tmp_path.glob("feed-*.jsonl.zst"))
    assert names == ["feed-20260101T00.jsonl.zst", "feed-20260101T01.jsonl.zst"]

    hour0 = lines_of(tmp_path / names[0])
    assert [bytes(line.frame) for line in hour0[:1]] == [first]
    assert hour0[0].t == START.timestamp()
    # The raw newline became a space: the same JSON, one line.
    assert bytes(hour0[1].frame) == HEARTBEAT.replace(b"\n", b" ")
    assert parse_frame(bytes(hour0[1].frame), 0).heartbeat_counter == 4
    # A malformed frame stays one JSON line: its text as a JSON string, malformed again on replay.
    assert bytes(hour0[2].frame) == b'"not json"'
    with pytest.raises(MalformedFrame):
        parse_frame(bytes(hour0[2].frame), 0)
    hour1 = lines_of(tmp_path / names[1])
    assert len(hour1) == 1
    assert parse_frame(bytes(hour1[0].frame), 0).tickers[0].product_id == "ETH-USD"
    # t is printed with 6 decimals.
    with (tmp_path / names[1]).open("rb") as raw:
        text = zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True).read()
    assert text.startswith(b'{"t":%.6f,"frame":{' % (START.timestamp() + 2.5))

    index = json.loads((tmp_path / "index.json").read_text())
    assert index["files"][names[0]] == {
        "products": ["BTC-USD"],
        "start": START.timestamp(),
        "end": START.timestamp(),
        "frames": 3,
    }
    assert index["files"][names[1]]["products"] == ["ETH-USD"]
    assert index["files"][names[1]]["frames"] == 1


def test_recording_again_in_the_same_hour_appends_and_merges_the_index(tmp_path: Path) -> None:
    clock = ManualClock(START)
    for seq in (1, 2):
        recorder = FeedRecorder(tmp_path, clock)
        recorder.start()
        frame = ticker("SOL-USD" if seq == 2 else "BTC-USD", "10", seq)
        recorder.record(frame, parse_frame(frame, 0))
        recorder.close()
        clock.advance(clock.monotonic() + 1)
    name = file_name_for(START.timestamp())
    assert len(lines_of(tmp_path / name)) == 2
    entry = read_index(tmp_path)[name]
    assert (entry.frames, sorted(entry.products)) == (2, ["BTC-USD", "SOL-USD"])
    assert (entry.start, entry.end) == (START.timestamp(), START.timestamp() + 1)


def test_a_disk_that_fails_stops_recording_with_one_clear_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(START)
    target = tmp_path / "rec"
    recorder = FeedRecorder(target, clock)
    recorder.start()
    # The hour file's name is taken by a directory: opening it fails as a broken disk would.
    (target / file_name_for(START.timestamp())).mkdir()
    for seq in range(3):
        recorder.record(ticker("BTC-USD", "1", seq), None)
    recorder.close()
    assert "IsADirectoryError" in recorder.failed
    errors = [r for r in caplog.records if "Feed recording stopped" in r.getMessage()]
    assert len(errors) == 1
    recorder.record(ticker("BTC-USD", "1", 9), None)  # no error, no growth: recording is off
    assert recorder.frames == 0


def test_an_unreadable_index_is_replaced_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "index.json").write_text("{not json")
    clock = ManualClock(START)
    recorder = FeedRecorder(tmp_path, clock)
    recorder.start()
    frame = ticker("BTC-USD", "5", 1)
    recorder.record(frame, parse_frame(frame, 0))
    recorder.close()
    assert any("is unreadable" in r.getMessage() for r in caplog.records)
    assert read_index(tmp_path)[file_name_for(START.timestamp())].frames == 1


def test_what_was_flushed_is_readable_while_recording_goes_on(tmp_path: Path) -> None:
    """As after a crash: the file holds complete zstd frames up to the last flush (about a second)."""
    clock = ManualClock(START)
    recorder = FeedRecorder(tmp_path, clock)
    recorder.start()
    try:
        for seq in range(5):
            frame = ticker("BTC-USD", "7", seq)
            recorder.record(frame, parse_frame(frame, 0))
        clock.advance(clock.monotonic() + 1.5)  # the writer flushes when a second has passed
        path = tmp_path / file_name_for(START.timestamp())
        deadline = time.monotonic() + 10
        read: list[Line] = []
        while time.monotonic() < deadline and len(read) < 5:
            time.sleep(0.02)
            if path.exists():
                read = lines_of(path)
        assert len(read) == 5
    finally:
        recorder.close()
