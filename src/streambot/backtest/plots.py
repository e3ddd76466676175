"""The report's PNG charts: equity with drawdown, price with entries and exits, P&L distribution.

Drawn with matplotlib's Agg canvas, named explicitly on every figure (never pyplot, so no display,
no global figure registry and no backend chosen by the environment). Writing a chart blocks: call
these from a thread (or a separate process) when an event loop is running.

Long series are downsampled before plotting (:func:`downsample`): a chart is ~900 pixels wide, so
more than :data:`MAX_PLOTTED_POINTS` points only cost time. Each bucket keeps its lowest and its
highest point in time order, so peaks, troughs and the deepest drawdown stay visible. Markers
(entries, exits) are never downsampled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
import numpy.typing as npt
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from streambot.backtest.result import BacktestTrade, EquitySample

MAX_PLOTTED_POINTS = 2_000
SIZE_IN = (9.0, 4.5)
DPI = 100
ENTRY_COLOR = "#1a9850"  # green ▲
EXIT_COLOR = "#d73027"  # red ▼
LINE_COLOR = "#2b6cb0"

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class PriceLine:
    """One product's price over the run with the bot's (or bots') fills on it."""

    label: str
    equity: Sequence[EquitySample]  # the points carry the price
    trades: Sequence[BacktestTrade]
    scale: float = 1.0  # 100 / first price when products are drawn together, normalised


def downsample(times: Floats, values: Floats, max_points: int = MAX_PLOTTED_POINTS) -> tuple[Floats, Floats]:
    """At most ``max_points`` points: per bucket the minimum and the maximum, in time order."""
    n = len(times)
    if n <= max_points:
        return times, values
    buckets = max_points // 2
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep: list[int] = []
    for lo, hi in pairwise(edges.tolist()):
        if hi <= lo:
            continue
        chunk = values[lo:hi]
        a = lo + int(np.argmin(chunk))
        b = lo + int(np.argmax(chunk))
        keep.extend((a, b) if a <= b else (b, a))
    index = np.unique(np.asarray(keep, dtype=np.int64))
    return times[index], values[index]


def equity_chart(path: Path, title: str, equity: Sequence[EquitySample]) -> None:
    """Two panes sharing the time axis: equity (quote) above, drawdown from the running peak (%)
    below."""
    times, values = _series(equity, lambda p: float(p.equity))
    peaks = np.maximum.accumulate(values) if len(values) else values
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = np.where(peaks > 0, (values - peaks) / peaks * 100.0, 0.0)
    figure = _figure()
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    t, v = downsample(times, values)
    top.plot(_dates(t), v, color=LINE_COLOR, linewidth=1.0)
    top.set_title(_literal(title))
    top.set_ylabel("equity (quote)")
    top.grid(alpha=0.3)
    t, d = downsample(times, drawdown)
    bottom.fill_between(_dates(t), d, 0.0, color=EXIT_COLOR, alpha=0.4, linewidth=0)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    _time_axis(bottom)
    _save(figure, path)


def price_chart(path: Path, title: str, lines: Sequence[PriceLine], ylabel: str = "price") -> None:
    """Each product's price, with buys as green ▲ and sells as red ▼ at their fill prices."""
    figure = _figure()
    axes = figure.subplots()
    entries_labelled = exits_labelled = False
    for line in lines:
        times, values = _series(line.equity, lambda p: float(p.price))
        t, v = downsample(times, values * line.scale)
        axes.plot(
            _dates(t),
            v,
            linewidth=1.0,
            label=_literal(line.label).lstrip("_") or "bot" if len(lines) > 1 else None,
        )
        for side, marker, color in (("BUY", "^", ENTRY_COLOR), ("SELL", "v", EXIT_COLOR)):
            fills = [tr for tr in line.trades if tr.side == side]
            if not fills:
                continue
            label = None
            if side == "BUY" and not entries_labelled:
                label, entries_labelled = "entry", True
            elif side == "SELL" and not exits_labelled:
                label, exits_labelled = "exit", True
            axes.scatter(
                _dates(np.fromiter((tr.time for tr in fills), np.float64, len(fills))),
                np.fromiter((float(tr.price) * line.scale for tr in fills), np.float64, len(fills)),
                marker=marker,
                color=color,
                s=36,
                zorder=3,
                label=label,
            )
    axes.set_title(_literal(title))
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="best", fontsize="small")
    _time_axis(axes)
    _save(figure, path)


def pnl_chart(path: Path, title: str, trades: Sequence[BacktestTrade]) -> None:
    """The realized P&L of each closed trade (sell) as a histogram; wins green, losses red."""
    pnls = np.fromiter((float(t.realized_pnl) for t in trades if t.side == "SELL"), np.float64)
    figure = _figure()
    axes = figure.subplots()
    if len(pnls):
        edges = np.histogram_bin_edges(pnls, bins=min(40, max(5, len(pnls) // 2)))
        counts, _ = np.histogram(pnls, bins=edges)
        centres = (edges[:-1] + edges[1:]) / 2
        colors = [ENTRY_COLOR if c > 0 else EXIT_COLOR if c < 0 else "#888888" for c in centres]
        axes.bar(centres, counts, width=np.diff(edges), color=colors, edgecolor="white", align="center")
        axes.axvline(0.0, color="#444444", linewidth=0.8)
    else:
        axes.text(0.5, 0.5, "no closed trades", ha="center", va="center", transform=axes.transAxes)
    axes.set_title(_literal(title))
    axes.set_xlabel("realized P&L per closed trade (quote)")
    axes.set_ylabel("trades")
    axes.grid(alpha=0.3)
    _save(figure, path)


def _literal(text: str) -> str:
    """User text (a bot's name) drawn as typed: matplotlib reads ``$…$`` as math."""
    return text.replace("$", r"\$")


def _series(equity: Sequence[EquitySample], value: Callable[[EquitySample], float]) -> tuple[Floats, Floats]:
    n = len(equity)
    times = np.fromiter((p.time for p in equity), np.float64, n)
    values = np.fromiter((value(p) for p in equity), np.float64, n)
    return times, values


def _dates(seconds: Floats) -> npt.NDArray[np.datetime64]:
    return (seconds * 1000.0).astype("datetime64[ms]")


def _figure() -> Figure:
    # Fixed margins instead of a layout engine: constrained layout measures every label before
    # drawing, which doubled the time of a chart, and these charts all have the same shape.
    figure = Figure(figsize=SIZE_IN, dpi=DPI)
    figure.subplots_adjust(left=0.09, right=0.98, top=0.92, bottom=0.12, hspace=0.08)
    FigureCanvasAgg(figure)  # Agg, explicitly: PNG without a display
    return figure


def _time_axis(axes: Axes) -> None:
    # matplotlib.dates leaves these two constructors unannotated.
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _save(figure: Figure, path: Path) -> None:
    # No timestamp or version in the metadata: the same result gives the same bytes.
    figure.savefig(path, format="png", metadata={"Software": None})
