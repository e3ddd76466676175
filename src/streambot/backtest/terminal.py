"""The backtest's terminal summary: a line on the data, one table of bots with a total row."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console
from rich.table import Table
from rich.text import Text

from streambot.backtest.metrics import (
    BotMetrics,
    bot_metrics,
    duration_text,
    money_text,
    pct_text,
    plain,
    ratio_text,
    time_text,
    total_metrics,
)
from streambot.backtest.result import BacktestResult


def print_summary(result: BacktestResult, console: Console) -> None:
    """Print the summary to ``console`` (the CLI chooses stdout or stderr)."""
    console.print(data_line(result))
    if result.candle_derived:
        console.print(
            Text(
                "⚠️  Some ticks were derived from candles: fills inside a candle follow an assumed "
                "path, not the real order of prices.",
                style="bold yellow",
            )
        )
    console.print(summary_table(result))


def data_line(result: BacktestResult) -> Text:
    span = max(result.end - result.start, 0.0)
    skipped = len(result.skipped)
    line = Text("📼 ")
    line.append(f"{time_text(result.start)} → {time_text(result.end)} UTC ({duration_text(span)})")
    line.append(f" · {result.ticks:,} ticks")
    line.append(f" · {skipped:,} skipped", style="yellow" if skipped else "")
    line.append(
        f" · fees {_rate(result.maker_fee_rate)} maker / {_rate(result.taker_fee_rate)} taker"
        f" · latency {result.latency_ms:g} ms"
    )
    if result.candle_derived:
        line.append(" · candle-derived", style="bold yellow")
    return line


def summary_table(result: BacktestResult) -> Table:
    table = Table(title="Backtest", title_justify="left", show_footer=False)
    for header in (
        "bot",
        "product",
        "trades (W/D/L)",
        "win rate",
        "realized",
        "unrealized",
        "total P&L",
        "fees",
        "max DD",
        "DD time",
        "Sharpe",
        "Sortino",
        "Calmar",
        "PF",
        "buy & hold",
    ):
        table.add_column(header, justify="left" if header in {"bot", "product"} else "right")
    for bot in result.bots:
        table.add_row(*_cells(bot_metrics(bot, result)))
    if result.bots:
        table.add_section()
        table.add_row(*_cells(total_metrics(result)), style="bold")
    return table


def _cells(m: BotMetrics) -> list[str | Text]:
    return [
        m.name,
        m.product_id,
        f"{m.trades} ({m.wins}/{m.draws}/{m.losses})",
        pct_text(None if m.win_rate is None else m.win_rate * 100),
        _signed(money_text(m.realized_pnl_quote), m.realized_pnl_quote),
        money_text(m.unrealized_pnl_quote),
        _signed(f"{money_text(m.total_pnl_quote)} ({pct_text(m.total_pnl_pct)})", m.total_pnl_quote),
        money_text(m.fees_quote),
        pct_text(m.max_drawdown_pct),
        duration_text(m.max_drawdown_duration_s),
        ratio_text(m.sharpe),
        ratio_text(m.sortino),
        ratio_text(m.calmar),
        ratio_text(m.profit_factor),
        pct_text(m.buy_and_hold_pct),
    ]


def _signed(text: str, value: Decimal) -> Text:
    return Text(text, style="green" if value > 0 else "red" if value < 0 else "")


def _rate(rate: Decimal) -> str:
    return f"{plain((rate * 100).normalize())} %"
