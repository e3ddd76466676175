"""Backtest figures against hand-computed values."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from streambot.backtest.metrics import JSON_KEYS, bot_metrics, json_figures, run_json, total_metrics

from .support import D, bot, generated, point, run, trade


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()


def round_trips() -> list[object]:
    # Each round trip buys 1 at 100 (fee 1: cost 101) and sells at 110, 95 and 102 (fee 1):
    # realized 110 − 1 − 101 = 8, 95 − 1 − 101 = −7, 102 − 1 − 101 = 0.
    return [
        trade("BUY", "1", "100", "1", time=0),
        trade("SELL", "1", "110", "1", "8", time=10),
        trade("BUY", "1", "100", "1", time=20),
        trade("SELL", "1", "95", "1", "-7", time=30),
        trade("BUY", "1", "100", "1", time=40),
        trade("SELL", "1", "102", "1", "0", time=50),
    ]


def test_a_win_a_loss_and_a_draw() -> None:
    b = bot(trades=round_trips(), realized_pnl=D(1), fees=D(6), unrealized_pnl=D("2.5"))
    m = bot_metrics(b, run())
    assert (m.trades, m.closed, m.wins, m.draws, m.losses) == (6, 3, 1, 1, 1)
    assert m.win_rate == 0.333333
    assert m.profit_factor == round(8 / 7, 6)
    assert m.expectancy == m.avg_profit_quote == Decimal(1) / 3
    # Per sell: P&L over what the sold base cost (101): (8 − 7 + 0) / 101 / 3 in %.
    assert m.avg_profit_pct == round(100 / 101 / 3, 6)
    assert m.realized_pnl_quote == 1
    assert m.total_pnl_quote == D("3.5")
    assert m.total_pnl_pct == 0.35
    assert m.fees_quote == 6


def test_a_drawdown_that_recovers() -> None:
    equity = [point(0, "1000"), point(60, "1100"), point(120, "990"), point(180, "1050"), point(240, "1100")]
    equity.append(point(300, "1200"))
    m = bot_metrics(bot(equity=equity), run(end=300))
    assert m.max_drawdown_quote == 110
    assert m.max_drawdown_pct == 10.0
    assert m.max_drawdown_duration_s == 180.0  # the peak at 60 is reached again at 240


def test_a_drawdown_runs_from_the_first_time_at_its_peak_to_recovery_after_the_trough() -> None:
    # The peak is touched again at 120 before the fall: the drawdown still starts at 60 and only
    # a point after the trough (240) ends it.
    equity = [point(0, "1000"), point(60, "1100"), point(120, "1100"), point(180, "990"), point(240, "1100")]
    m = bot_metrics(bot(equity=equity), run(end=240))
    assert m.max_drawdown_quote == 110
    assert m.max_drawdown_duration_s == 180.0


def test_a_drawdown_never_recovered_lasts_to_the_end() -> None:
    equity = [point(0, "1000"), point(60, "1100"), point(120, "990"), point(180, "1050")]
    m = bot_metrics(bot(equity=equity), run())
    assert m.max_drawdown_quote == 110
    assert m.max_drawdown_duration_s == 120.0


def test_the_deepest_drawdown_in_percent_and_in_quote_are_each_their_own_maximum() -> None:
    # 100 → 50 is −50 % (50 quote); 1000 → 800 later is −20 % but 200 quote.
    equity = [point(0, "100"), point(60, "50"), point(120, "1000"), point(180, "800")]
    m = bot_metrics(bot(budget="100", equity=equity), run())
    assert m.max_drawdown_pct == 50.0
    assert m.max_drawdown_quote == 200
    assert m.max_drawdown_duration_s == 60.0


def test_undefined_ratios_are_none() -> None:
    flat = [point(0, "1000"), point(60, "1000"), point(120, "1000"), point(180, "1000")]
    m = bot_metrics(bot(equity=flat), run())
    assert m.win_rate is None
    assert m.avg_profit_quote is None
    assert m.avg_profit_pct is None
    assert m.expectancy is None
    assert m.profit_factor is None
    assert m.sharpe is None  # zero deviation
    assert m.sortino is None  # no losing period
    assert m.calmar is None  # no drawdown
    assert m.max_drawdown_pct == 0.0
    assert m.max_drawdown_duration_s == 0.0
    # Fewer than two returns: a span of one grid step.
    short = bot_metrics(bot(equity=[point(0, "1000"), point(60, "1100")]), run(end=60))
    assert (short.sharpe, short.sortino, short.calmar) == (None, None, None)
    # Only wins: no profit factor.
    wins = bot_metrics(bot(trades=round_trips()[:2]), run())
    assert wins.profit_factor is None
    assert wins.win_rate == 1.0
    empty = bot_metrics(bot(), run())
    assert empty.exposure_pct is None
    assert empty.buy_and_hold_pct is None
    assert empty.end_equity_quote == 1000


def test_sharpe_sortino_and_calmar_from_grid_returns() -> None:
    # Returns +10 %, −10 %, +10 % on the grid; the point at 150 is between grid times and only
    # the equity as of 180 counts.
    equity = [point(0, "100"), point(60, "110"), point(120, "99"), point(150, "50"), point(180, "108.9")]
    m = bot_metrics(bot(budget="100", equity=equity), run())
    returns = [0.1, -0.1, 0.1]
    mean = sum(returns) / 3
    std = math.sqrt(sum((r - mean) ** 2 for r in returns) / 2)
    downside = math.sqrt(0.01 / 3)
    per_year = math.sqrt(365 * 86400 / 60)
    assert m.sharpe == round(mean / std * per_year, 6)
    assert m.sortino == round(mean / downside * per_year, 6)
    assert m.calmar is None  # 1.089 ^ 175200: no meaningful annual figure
    # A quarterly grid: 4 periods a year, CAGR = 1.089 ^ (4 / 3) − 1, drawdown 10 % (110 → 99).
    quarter = 365 * 86400 / 4
    equity = [point(0, "100"), point(quarter, "110"), point(2 * quarter, "99"), point(3 * quarter, "108.9")]
    q = bot_metrics(bot(budget="100", equity=equity), run(end=3 * quarter, sample_s=quarter))
    assert q.max_drawdown_pct == 10.0
    assert q.calmar == round((1.089 ** (4 / 3) - 1) / 0.1, 6)
    assert q.sharpe == round(mean / std * 2, 6)


def test_exposure_and_buy_and_hold() -> None:
    equity = [point(0, "1000", "0"), point(60, "1000", "1"), point(120, "1010", "1"), point(180, "1000", "0")]
    m = bot_metrics(bot(equity=equity, first_price=D(100), last_price=D(110)), run())
    assert m.exposure_pct == 66.666667
    assert m.buy_and_hold_pct == 10.0


def test_breakdown_at_month_and_iso_week_boundaries() -> None:
    # 2025-12-31 is in ISO week 2026-W01; 2026-01-04 (a Sunday) ends it; 2026-01-31 → 02-01 a month.
    times = [
        utc(2025, 12, 31, 12),
        utc(2026, 1, 4, 23),
        utc(2026, 1, 5, 1),
        utc(2026, 1, 31, 23, 59),
        utc(2026, 2, 1, 0, 1),
    ]
    trades = [
        trade("BUY", "1", "100", "1", time=times[0]),
        trade("SELL", "1", "110", "1", "8", time=times[1]),
        trade("BUY", "1", "100", "1", time=times[2]),
        trade("SELL", "1", "95", "1", "-7", time=times[3]),
        trade("BUY", "1", "100", "2", time=times[4]),
    ]
    equity = [point(t, str(1000 + i)) for i, t in enumerate(times)]
    m = bot_metrics(bot(trades=trades, equity=equity), run(start=times[0], end=times[-1], sample_s=3600))
    weeks = [(r.period, r.trades, r.realized_pnl_quote, r.fees_quote, r.end_equity_quote) for r in m.by_week]
    assert weeks == [
        ("2026-W01", 2, D(8), D(2), D(1001)),
        ("2026-W02", 1, D(0), D(1), D(1002)),
        ("2026-W05", 2, D(-7), D(3), D(1004)),
    ]
    months = [
        (r.period, r.trades, r.realized_pnl_quote, r.fees_quote, r.end_equity_quote) for r in m.by_month
    ]
    assert months == [
        ("2025-12", 1, D(0), D(1), D(1000)),
        ("2026-01", 3, D(1), D(3), D(1003)),
        ("2026-02", 1, D(0), D(2), D(1004)),
    ]
    assert [r.period for r in m.by_day] == [
        "2025-12-31",
        "2026-01-04",
        "2026-01-05",
        "2026-01-31",
        "2026-02-01",
    ]


def test_total_of_two_bots() -> None:
    a = bot(
        "a",
        "1000",
        equity=[point(0, "1000"), point(60, "1100")],
        trades=round_trips()[:2],
        realized_pnl=D(8),
        fees=D(2),
        first_price=D(100),
        last_price=D(110),
    )
    b = bot(
        "b",
        "500",
        product_id="ETH-USD",
        equity=[point(30, "500", "2"), point(60, "450", "2")],
        unrealized_pnl=D(-50),
        fees=D(1),
        first_price=D(10),
        last_price=D(9),
    )
    result = run(end=60, bots=[a, b])
    t = total_metrics(result)
    assert t.name == "total"
    assert t.product_id == "BTC-USD, ETH-USD"
    assert t.budget_quote == 1500
    assert (t.realized_pnl_quote, t.unrealized_pnl_quote, t.total_pnl_quote, t.fees_quote) == (
        D(8),
        D(-50),
        D(-42),
        D(3),
    )
    assert t.trades == 2
    assert t.end_equity_quote == 1550  # 1100 + 450; b counted at its budget before its first point
    assert t.exposure_pct == 50.0  # b holds from 30 to 60
    assert t.buy_and_hold_pct == round((10 * 1000 - 10 * 500) / 1500, 6)
    assert t.total_pnl_pct == -2.8


def test_json_figures_lead_with_the_issue_keys_and_are_plain() -> None:
    b = bot(trades=round_trips(), realized_pnl=D("1E+3"), fees=D("-0"), equity=[point(0, "1000")])
    figures = json_figures(bot_metrics(b, run()))
    assert tuple(figures)[: len(JSON_KEYS)] == JSON_KEYS
    assert figures["realized_pnl_quote"] == "1000"
    assert figures["fees_quote"] == "0"
    assert figures["win_rate"] == 0.333333
    assert figures["by_day"] == [
        {
            "period": "1970-01-01",
            "trades": 6,
            "realized_pnl_quote": "1",
            "fees_quote": "6",
            "end_equity_quote": "1000",
        }
    ]
    json.dumps(figures)  # JSON-ready as it is


def test_a_hundred_thousand_points_are_byte_stable() -> None:
    # How fast is for the benchmarks: tests assert behaviour, not time.
    result = generated(bots=1, points=100_000)
    figures = json_figures(bot_metrics(result.bots[0], result))
    assert figures["sharpe"] is not None
    assert figures["closed"] == 200
    assert len(figures["by_month"]) == 3  # type: ignore[arg-type]
    again = json_figures(bot_metrics(result.bots[0], result))
    assert json.dumps(again) == json.dumps(figures)


def test_run_json_lists_each_bot_and_the_total() -> None:
    result = generated(bots=2, points=1_000)
    out = run_json(result)
    assert [b["name"] for b in out["bots"]] == ["bot 0", "bot 1"]  # type: ignore[attr-defined]
    total = out["total"]
    assert isinstance(total, dict)
    assert total["name"] == "total"
    assert set(JSON_KEYS) <= set(total)
    assert json.loads(json.dumps(out)) == out


def test_the_figures_are_the_same_bytes_in_another_process() -> None:
    # Another interpreter with another hash seed: no set or dict order leaks into the output.
    code = (
        "import json; from tests.unit.backtest.support import generated; "
        "from streambot.backtest.metrics import run_json; "
        "print(json.dumps(run_json(generated(bots=3, points=3_000))))"
    )
    root = Path(__file__).resolve().parents[3]
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=root,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            check=True,
            text=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    assert json.dumps(run_json(generated(bots=3, points=3_000))) + "\n" in outputs
