"""Several --data paths: one stream in time order, deterministic ties, from/to."""

from __future__ import annotations

from pathlib import Path

from streambot.backtest.sources import BacktestData
from tests.unit.backtest.sources.conftest import WriteLines, flat

T0 = 1767225600.0


def test_paths_merge_by_time_and_ties_keep_the_order_of_the_paths(
    tmp_path: Path, lines_file: WriteLines
) -> None:
    a = lines_file(
        tmp_path / "a.jsonl",
        [flat(T0, "BTC-USD", "1"), flat(T0 + 2, "BTC-USD", "2"), flat(T0 + 2, "BTC-USD", "3")],
    )
    b = lines_file(
        tmp_path / "b.jsonl.zst",
        [flat(T0 + 1, "ETH-USD", "10"), flat(T0 + 2, "ETH-USD", "20"), flat(T0 + 3, "ETH-USD", "30")],
        "zstd",
    )
    order = [(at, t.price) for at, t in BacktestData.open([a, b]).ticks()]
    assert order == [(T0, 1), (T0 + 1, 10), (T0 + 2, 2), (T0 + 2, 3), (T0 + 2, 20), (T0 + 3, 30)]
    swapped = [(at, t.price) for at, t in BacktestData.open([b, a]).ticks()]
    assert swapped == [(T0, 1), (T0 + 1, 10), (T0 + 2, 20), (T0 + 2, 2), (T0 + 2, 3), (T0 + 3, 30)]


def test_from_and_to_keep_the_ticks_between_both_inclusive(tmp_path: Path, lines_file: WriteLines) -> None:
    path = lines_file(tmp_path / "p.jsonl", [flat(T0 + i, "BTC-USD", str(i + 1)) for i in range(10)])
    data = BacktestData.open([path], start=T0 + 3, end=T0 + 6)
    assert [at for at, _ in data.ticks()] == [T0 + 3, T0 + 4, T0 + 5, T0 + 6]


def test_ticks_can_be_read_again_with_the_same_result(tmp_path: Path, lines_file: WriteLines) -> None:
    path = lines_file(tmp_path / "p.jsonl", [flat(T0, "BTC-USD", "1"), "garbage", flat(T0 + 1, "X-USD", "2")])
    data = BacktestData.open([path])
    first = list(data.ticks())
    skipped, products = data.skipped, data.products
    assert list(data.ticks()) == first
    assert (data.skipped, data.products) == (skipped, products) == (data.skipped, ["BTC-USD", "X-USD"])
    assert len(skipped) == 1
