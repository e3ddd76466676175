"""Parquet candle files: four ticks a candle along the documented path."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from streambot.backtest.result import SkippedLine
from streambot.backtest.sources import BacktestData

T0 = 1767225600


def write_candles(
    path: Path, rows: list[tuple[str, int, float, float, float, float]], timeframe: str | None = "1m"
) -> Path:
    products, starts, opens, highs, lows, closes = (list(c) for c in zip(*rows, strict=True))
    table = pa.table(
        {
            "product_id": pa.array(products, pa.string()),
            "start": pa.array(starts, pa.timestamp("s", tz="UTC")),
            "open": pa.array(opens, pa.float64()),
            "high": pa.array(highs, pa.float64()),
            "low": pa.array(lows, pa.float64()),
            "close": pa.array(closes, pa.float64()),
            "volume": pa.array([1.0] * len(rows), pa.float64()),
        }
    )
    if timeframe is not None:
        table = table.replace_schema_metadata({"streambot.timeframe": timeframe})
    pq.write_table(table, path)
    return path


def test_a_rising_candle_dips_first_and_a_falling_one_rises_first(tmp_path: Path) -> None:
    path = write_candles(
        tmp_path / "BTC-USD-1m.parquet",
        [("BTC-USD", T0, 100.0, 110.0, 95.0, 105.0), ("BTC-USD", T0 + 60, 105.0, 108.0, 90.0, 92.0)],
    )
    data = BacktestData.open([path])
    assert data.kinds == [(str(path), "candles")]
    ticks = list(data.ticks())
    assert [(at, t.price) for at, t in ticks] == [
        (T0, 100.0),  # open
        (T0 + 20, 95.0),  # close ≥ open: low, then high
        (T0 + 40, 110.0),
        (T0 + 59.999, 105.0),  # close
        (T0 + 60, 105.0),
        (T0 + 80, 108.0),  # close < open: high, then low
        (T0 + 100, 90.0),
        (T0 + 119.999, 92.0),
    ]
    assert all(t.best_bid == t.best_ask == t.price and t.time == at for at, t in ticks)  # no spread
    assert data.candle_derived
    assert data.products == ["BTC-USD"]


def test_the_timeframe_sets_the_spacing_and_from_to_cut_inside_a_candle(tmp_path: Path) -> None:
    path = write_candles(
        tmp_path / "ETH-USD-1h.parquet", [("ETH-USD", T0, 10.0, 12.0, 9.0, 11.0)], timeframe="1h"
    )
    data = BacktestData.open([path], start=T0 + 1000, end=T0 + 2400)
    assert [(at, t.price) for at, t in data.ticks()] == [(T0 + 1200, 9.0), (T0 + 2400, 12.0)]


def test_bad_rows_and_files_are_skipped_not_fatal(tmp_path: Path) -> None:
    good = write_candles(
        tmp_path / "SOL-USD-1m.parquet",
        [("SOL-USD", T0, 10.0, 9.0, 8.0, 9.5), ("SOL-USD", T0 + 60, 10.0, 11.0, 9.0, 10.5)],
    )
    no_timeframe = write_candles(tmp_path / "x.parquet", [("SOL-USD", T0, 1, 1, 1, 1)], timeframe=None)
    bad_timeframe = write_candles(tmp_path / "y.parquet", [("SOL-USD", T0, 1, 1, 1, 1)], timeframe="3m")
    data = BacktestData.open([good, no_timeframe, bad_timeframe])
    assert len(list(data.ticks())) == 4
    skipped = data.skipped
    assert skipped[0] == SkippedLine(
        str(good), 1, "SOL-USD: low 8.0 / high 9.0 do not bound open 10.0 and close 9.5"
    )
    assert (skipped[1].file, skipped[1].line) == (str(no_timeframe), 0)
    assert "no streambot.timeframe" in skipped[1].reason
    assert "'3m' is not one of 1m, 5m" in skipped[2].reason


@pytest.mark.parametrize("size", [0, 10])
def test_a_broken_parquet_file_is_one_skipped_entry(tmp_path: Path, size: int) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + b"\0" * size)
    data = BacktestData.open([path])
    assert list(data.ticks()) == []
    assert [(s.line, s.reason.startswith("not a readable candle file")) for s in data.skipped] == [(0, True)]
