"""The HTML report, its charts and the terminal summary, written for real into a temporary dir."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
from matplotlib.image import imread
from rich.console import Console

from streambot.backtest.html_report import REPORT_NAME, write_report
from streambot.backtest.plots import MAX_PLOTTED_POINTS, downsample
from streambot.backtest.result import BacktestResult
from streambot.backtest.terminal import print_summary

from .support import D, bot, generated, point, run, trade

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def small_result() -> BacktestResult:
    trades = [
        trade("BUY", "0.5", "100", "0.3", time=60),
        trade("SELL", "0.5", "110", "0.33", "4.37", time=120),
    ]
    b = bot(
        "ema <fast> $5",
        trades=trades,
        equity=[
            point(0, "1000"),
            point(60, "999.7", "0.5"),
            point(120, "1004.37", "0", "110"),
            point(180, "1004.37"),
        ],
        realized_pnl=D("4.37"),
        fees=D("0.63"),
        first_price=D(100),
        last_price=D(110),
    )
    empty = bot(
        "idle", product_id="ETH-USD", equity=[point(0, "500", price="10"), point(180, "500", price="9")]
    )
    return run(bots=[b, empty], candle_derived=True, ticks=4)


def test_the_report_is_self_contained_with_valid_charts(tmp_path: Path) -> None:
    result = small_result()
    path = write_report(result, tmp_path / "report")
    assert path == tmp_path / "report" / REPORT_NAME
    page = path.read_text(encoding="utf-8")
    tags = Tags()
    tags.feed(page)
    assert not [t for t, _ in tags.tags if t == "script"]
    assert not [a for t, a in tags.tags if t == "link"]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    images = [a["src"] for t, a in tags.tags if t == "img"]
    assert len(images) == 9  # total and two bots × equity, price, P&L
    assert all(src is not None and src.startswith("data:image/png;base64,") for src in images)
    pngs = sorted(p.name for p in path.parent.glob("*.png"))
    assert pngs == sorted(
        f"{stem}-{kind}.png"
        for stem in ("total", "bot-01-ema-fast-5", "bot-02-idle")
        for kind in ("equity", "price", "pnl")
    )
    for png in path.parent.glob("*.png"):
        assert png.read_bytes().startswith(PNG_MAGIC)
        height, width, _ = imread(png).shape
        assert (width, height) == (900, 450)
    assert 'id="metrics-table"' in page
    assert "Sharpe" in page
    assert "profit factor" in page
    assert "ema &lt;fast&gt; $5" in page  # names are escaped
    assert "Candle-derived data" in page
    assert "cross down" in page  # the trades table with the reason


def test_the_same_result_writes_the_same_files(tmp_path: Path) -> None:
    result = small_result()
    first = write_report(result, tmp_path / "a")
    second = write_report(result, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()


def test_skipped_lines_list_the_first_hundred_and_the_count(tmp_path: Path) -> None:
    result = generated(bots=1, points=2_000)
    page = write_report(result, tmp_path).read_text(encoding="utf-8")
    assert "Skipped lines (150)" in page
    assert "The first 100 of 150." in page
    assert page.count("not JSON") == 100


def test_ten_bots_of_ten_thousand_points_make_every_chart(tmp_path: Path) -> None:
    result = generated(bots=10, points=10_000)
    write_report(result, tmp_path)
    assert len(list(tmp_path.glob("*.png"))) == 33


def test_downsampling_keeps_the_extremes() -> None:
    times = np.arange(100_000, dtype=np.float64)
    values = np.sin(times / 5_000.0)
    values[31_337] = -5.0
    t, v = downsample(times, values)
    assert len(t) <= MAX_PLOTTED_POINTS
    assert v.min() == -5.0
    assert v.max() == values.max()
    assert np.all(np.diff(t) > 0)


def test_the_terminal_summary_has_a_row_per_bot_and_a_total() -> None:
    out = io.StringIO()
    print_summary(small_result(), Console(file=out, width=250, color_system=None))
    text = out.getvalue()
    assert "ema <fast> $5" in text
    assert "idle" in text
    assert "total" in text
    assert "4 ticks" in text
    assert "0 skipped" in text
    assert "candle-derived" in text
    assert "0.6 % maker / 1.2 % taker" in text
    assert "latency 50 ms" in text
    assert "4.37" in text


def test_runs_without_bots_points_or_time_still_report(tmp_path: Path) -> None:
    for index, result in enumerate(
        (run(), run(bots=[bot()]), run(bots=[bot(equity=[point(5, "1000")])], start=5, end=5))
    ):
        page = write_report(result, tmp_path / str(index)).read_text(encoding="utf-8")
        assert 'id="metrics-table"' in page
        out = io.StringIO()
        print_summary(result, Console(file=out, width=250, color_system=None))
        assert "0 ticks" in out.getvalue()
