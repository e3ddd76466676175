"""Recorded price files: flat ticks and raw Coinbase ticker frames."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from streambot.simulator.replay import RecordingError, load_recording

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coinbase"


def test_flat_ticks_and_ticker_frames_load_in_time_order(tmp_path: Path) -> None:
    path = tmp_path / "prices.jsonl"
    frame = (FIXTURES / "ws_ticker.json").read_text().strip()
    path.write_text(
        '{"time": 4102444800.5, "product_id": "BTC-USD", "price": "97000.01"}\n'
        "\n"
        f"{frame}\n"
        '{"time": "2023-02-09T20:30:37.167359596Z", "product_id": "ETH-USD", "price": "1",'
        ' "best_bid": "0.99", "best_ask": "1.01"}\n'
    )
    ticks = load_recording(path)
    assert ticks == sorted(ticks, key=lambda t: t.time)
    assert ticks[-1].product_id == "BTC-USD"
    assert ticks[-1].best_bid == ticks[-1].best_ask == "97000.01"  # a flat tick without a book
    # Both RFC 3339 times (nine fraction digits, read to the microsecond) are in UTC.
    at = datetime(2023, 2, 9, 20, 30, 37, 167359, UTC).timestamp()
    assert [(t.product_id, t.time, t.best_ask) for t in ticks[:2]] == [
        ("BTC-USD", at, "21933.98"),
        ("ETH-USD", at, "1.01"),
    ]
    assert len(ticks) == 3


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not json\n", "line 1: not JSON"),
        ('{"time": 1, "price": "1"}\n', "missing 'product_id'"),
        ("", "no ticks"),
    ],
)
def test_bad_recordings_name_the_line(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(RecordingError, match=words):
        load_recording(path)
