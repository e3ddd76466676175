"""The backtest's HTML report: one self-contained ``report.html`` with its PNG charts beside it.

Self-contained means the page loads nothing: the CSS is inline, there is no script, and every chart
is embedded as a base64 ``<img>`` (the PNG files next to it are the same charts, for reuse). File
names depend only on the bots' order and names, so a report written twice has the same files.
Writing blocks (charts, files): call :func:`write_report` from a thread or a separate process when
an event loop is running.
"""

from __future__ import annotations

import base64
import html
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from streambot.backtest import plots
from streambot.backtest.metrics import (
    BotMetrics,
    PeriodRow,
    bot_metrics,
    duration_text,
    money_text,
    pct_text,
    plain,
    portfolio_equity,
    ratio_text,
    time_text,
    total_metrics,
)
from streambot.backtest.result import BacktestResult, BacktestTrade, BotResult

log = logging.getLogger(__name__)

REPORT_NAME = "report.html"
SKIPPED_LISTED = 100

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto;
       max-width: 1200px; padding: 0 1rem; color: #1a202c; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { margin-top: 2.5rem; border-bottom: 2px solid #e2e8f0; }
h3 { margin-top: 1.5rem; }
.meta { color: #4a5568; }
.warning { background: #fffbea; border: 1px solid #f6e05e; padding: .6rem 1rem; border-radius: 6px; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-variant-numeric: tabular-nums; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid #e2e8f0; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.text { text-align: left; }
thead th { background: #f7fafc; position: sticky; top: 0; }
.pos { color: #1a7f37; } .neg { color: #c53030; }
img { max-width: 100%; height: auto; display: block; margin: .5rem 0; }
details { margin: .5rem 0; } summary { cursor: pointer; font-weight: 600; }
"""


@dataclass(frozen=True, slots=True)
class _Section:
    """One part of the report: a bot, or all bots together."""

    anchor: str
    metrics: BotMetrics
    charts: tuple[Path, Path, Path]  # equity, price, P&L distribution
    trades: Sequence[BacktestTrade] | None  # None for the total (the bots list theirs)


def write_report(result: BacktestResult, directory: Path) -> Path:
    """Write ``report.html`` and its charts into ``directory`` (created if missing); return the
    report's path."""
    directory.mkdir(parents=True, exist_ok=True)
    sections = [_total_section(result, directory)]
    sections += [_bot_section(result, bot, index, directory) for index, bot in enumerate(result.bots, 1)]
    path = directory / REPORT_NAME
    path.write_text(_page(result, sections), encoding="utf-8")
    log.info("📊 Backtest report written to %s", path)
    return path


def chart_stem(index: int, name: str) -> str:
    """``bot-01-ema-fast``: the bot's place keeps two bots whose names slug alike apart."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "bot"
    return f"bot-{index:02d}-{slug}"


def _total_section(result: BacktestResult, directory: Path) -> _Section:
    metrics = total_metrics(result)
    equity = portfolio_equity(result)
    trades = sorted((t for b in result.bots for t in b.trades), key=lambda t: (t.time, t.bot))
    lines = [
        plots.PriceLine(
            label=f"{bot.name} ({bot.product_id})",
            equity=bot.equity,
            trades=bot.trades,
            scale=100.0 / float(first),
        )
        for bot in result.bots
        if (first := _first_price(bot)) > 0
    ]
    charts = _chart_paths(directory, "total")
    plots.equity_chart(charts[0], "All bots: equity and drawdown", equity)
    plots.price_chart(charts[1], "All products, as % of their first price", lines, "% of first price")
    plots.pnl_chart(charts[2], "All bots: P&L of closed trades", trades)
    return _Section("total", metrics, charts, None)


def _bot_section(result: BacktestResult, bot: BotResult, index: int, directory: Path) -> _Section:
    stem = chart_stem(index, bot.name)
    charts = _chart_paths(directory, stem)
    plots.equity_chart(charts[0], f"{bot.name}: equity and drawdown", bot.equity)
    line = plots.PriceLine(label=bot.product_id, equity=bot.equity, trades=bot.trades)
    plots.price_chart(charts[1], f"{bot.name}: {bot.product_id} with entries and exits", [line])
    plots.pnl_chart(charts[2], f"{bot.name}: P&L of closed trades", bot.trades)
    return _Section(stem, bot_metrics(bot, result), charts, bot.trades)


def _chart_paths(directory: Path, stem: str) -> tuple[Path, Path, Path]:
    return (directory / f"{stem}-equity.png", directory / f"{stem}-price.png", directory / f"{stem}-pnl.png")


def _first_price(bot: BotResult) -> Decimal:
    return bot.first_price or (bot.equity[0].price if bot.equity else Decimal(0))


# ---- HTML ------------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _page(result: BacktestResult, sections: Sequence[_Section]) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Backtest report: {_e(', '.join(result.products))}</title>",
        f"<style>{CSS}</style></head><body>",
        *_header(result),
        '<h2 id="metrics">Metrics</h2>',
        _metrics_table([s.metrics for s in sections]),
    ]
    for section in sections:
        parts.extend(_section(section))
    parts.extend(_skipped(result))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _header(result: BacktestResult) -> list[str]:
    span = max(result.end - result.start, 0.0)
    rows = [
        ("Data", ", ".join(result.data)),
        ("Products", ", ".join(result.products)),
        ("Span", f"{time_text(result.start)} → {time_text(result.end)} UTC ({duration_text(span)})"),
        ("Ticks", f"{result.ticks:,}"),
        ("Skipped lines", f"{len(result.skipped):,}"),
        (
            "Fees",
            f"{plain((result.maker_fee_rate * 100).normalize())} % maker / "
            f"{plain((result.taker_fee_rate * 100).normalize())} % taker",
        ),
        ("Latency", f"{result.latency_ms:g} ms"),
        ("Equity sampled every", duration_text(result.sample_s)),
    ]
    if result.digest:
        rows.append(("Digest", result.digest))
    out = ["<h1>Backtest report</h1>"]
    if result.candle_derived:
        out.append(
            '<p class="warning"><strong>⚠️ Candle-derived data.</strong> Some ticks were expanded from '
            "candles along an assumed path through each candle's open, high, low and close: fills "
            "inside a candle approximate what the market did.</p>"
        )
    out.append('<table class="meta">')
    out += [f'<tr><th>{_e(k)}</th><td class="text">{_e(v)}</td></tr>' for k, v in rows]
    out.append("</table>")
    return out


_METRIC_ROWS: tuple[tuple[str, str], ...] = (
    ("product", "product_id"),
    ("budget", "budget_quote"),
    ("trades (buys and sells)", "trades"),
    ("closed trades", "closed"),
    ("wins / draws / losses", ""),
    ("win rate", "win_rate"),
    ("realized P&L", "realized_pnl_quote"),
    ("unrealized P&L", "unrealized_pnl_quote"),
    ("total P&L", "total_pnl_quote"),
    ("total P&L %", "total_pnl_pct"),
    ("average profit per closed trade", "avg_profit_quote"),
    ("average profit % per closed trade", "avg_profit_pct"),
    ("fees", "fees_quote"),
    ("max drawdown", "max_drawdown_quote"),
    ("max drawdown %", "max_drawdown_pct"),
    ("max drawdown duration", "max_drawdown_duration_s"),
    ("Sharpe", "sharpe"),
    ("Sortino", "sortino"),
    ("Calmar", "calmar"),
    ("profit factor", "profit_factor"),
    ("expectancy", "expectancy"),
    ("exposure", "exposure_pct"),
    ("buy and hold", "buy_and_hold_pct"),
    ("end equity", "end_equity_quote"),
)


_PROFIT_FIELDS = frozenset(
    {"realized_pnl_quote", "unrealized_pnl_quote", "total_pnl_quote", "avg_profit_quote", "expectancy"}
)


def _metric_cell(m: BotMetrics, field: str) -> str:
    if not field:
        return f"<td>{m.wins} / {m.draws} / {m.losses}</td>"
    value = getattr(m, field)
    if field == "win_rate":
        return f"<td>{_e(pct_text(None if value is None else value * 100))}</td>"
    if field == "max_drawdown_duration_s":
        return f"<td>{_e(duration_text(value))}</td>"
    if field.endswith("_pct"):
        return f"<td>{_e(pct_text(value))}</td>"
    if field in _PROFIT_FIELDS:
        return _money_cell(value)  # green or red
    if isinstance(value, Decimal):
        return f"<td>{_e(money_text(value))}</td>"
    if isinstance(value, float) or value is None:
        return f"<td>{_e(ratio_text(value))}</td>"
    return f'<td class="text">{_e(value)}</td>' if isinstance(value, str) else f"<td>{_e(value)}</td>"


def _money_cell(value: Decimal | None) -> str:
    css = "" if value is None or value == 0 else ' class="pos"' if value > 0 else ' class="neg"'
    return f"<td{css}>{_e(money_text(value))}</td>"


def _metrics_table(metrics: Sequence[BotMetrics]) -> str:
    head = "".join(f'<th><a href="#{_e(a)}">{_e(m.name)}</a></th>' for a, m in _anchored(metrics))
    rows = [f'<table id="metrics-table"><thead><tr><th>metric</th>{head}</tr></thead><tbody>']
    for label, field in _METRIC_ROWS:
        cells = "".join(_metric_cell(m, field) for m in metrics)
        rows.append(f"<tr><th>{_e(label)}</th>{cells}</tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _anchored(metrics: Sequence[BotMetrics]) -> Iterable[tuple[str, BotMetrics]]:
    for index, m in enumerate(metrics):
        yield ("total" if index == 0 else chart_stem(index, m.name)), m


def _section(section: _Section) -> list[str]:
    m = section.metrics
    title = "All bots" if section.trades is None else f"{m.name} · {m.product_id}"
    out = [f'<h2 id="{_e(section.anchor)}">{_e(title)}</h2>']
    for chart, alt in zip(
        section.charts, ("equity and drawdown", "price with entries and exits", "P&L"), strict=True
    ):
        data = base64.b64encode(chart.read_bytes()).decode("ascii")
        out.append(
            f'<img src="data:image/png;base64,{data}" alt="{_e(m.name)}: {alt}" title="{_e(chart.name)}">'
        )
    # Months and weeks open; days and trades (long lists on a long run) folded, without a script.
    for label, rows, folded in (
        ("month", m.by_month, False),
        ("ISO week", m.by_week, False),
        ("day", m.by_day, True),
    ):
        out.append(_fold(f"By {label} ({len(rows):,})", _period_table(label, rows), folded))
    if section.trades is not None:
        out.append(_fold(f"Trades ({len(section.trades):,})", _trades_table(section.trades), True))
    return out


def _fold(title: str, body: str, folded: bool) -> str:
    return f"<details{'' if folded else ' open'}><summary>{_e(title)}</summary>\n{body}\n</details>"


def _period_table(label: str, rows: Sequence[PeriodRow]) -> str:
    out = [
        f"<table><thead><tr><th>{_e(label)}</th><th>trades</th><th>realized P&amp;L</th>"
        "<th>fees</th><th>end equity</th></tr></thead><tbody>"
    ]
    for r in rows:
        out.append(
            f"<tr><td>{_e(r.period)}</td><td>{r.trades}</td>{_money_cell(r.realized_pnl_quote)}"
            f"<td>{_e(money_text(r.fees_quote))}</td><td>{_e(money_text(r.end_equity_quote))}</td></tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def _trades_table(trades: Sequence[BacktestTrade]) -> str:
    out = [
        "<table><thead><tr><th>time (UTC)</th><th>side</th><th>size</th><th>price</th><th>fee</th>"
        "<th>P&amp;L</th><th>reason</th></tr></thead><tbody>"
    ]
    for t in trades:
        pnl = _money_cell(t.realized_pnl) if t.side == "SELL" else "<td></td>"
        out.append(
            f'<tr><td>{_e(time_text(t.time))}</td><td class="text">{_e(t.side)}</td>'
            f"<td>{_e(plain(t.size))}</td><td>{_e(plain(t.price))}</td><td>{_e(plain(t.fee))}</td>"
            f'{pnl}<td class="text">{_e(t.reason)}</td></tr>'
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def _skipped(result: BacktestResult) -> list[str]:
    count = len(result.skipped)
    out = [f'<h2 id="skipped">Skipped lines ({count:,})</h2>']
    if not count:
        out.append("<p>None: every line was used.</p>")
        return out
    if count > SKIPPED_LISTED:
        out.append(f"<p>The first {SKIPPED_LISTED} of {count:,}.</p>")
    out.append("<table><thead><tr><th>file</th><th>line</th><th>reason</th></tr></thead><tbody>")
    out += [
        f'<tr><td>{_e(s.file)}</td><td>{s.line}</td><td class="text">{_e(s.reason)}</td></tr>'
        for s in result.skipped[:SKIPPED_LISTED]
    ]
    out.append("</tbody></table>")
    return out
