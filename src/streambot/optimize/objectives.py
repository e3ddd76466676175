"""What a trial maximises, computed from its backtest's figures (``backtest.metrics``).

- ``profit``: the bot's total P&L in % of its budget (realized + the end position marked at the
  last price, fees included);
- ``sharpe``, ``sortino``, ``calmar``: the backtest report's ratios (annualised on its equity grid);
- ``profit_drawdown``: profit % / max drawdown %, the drawdown counted as at least 1 % so a run
  that never fell is not infinitely good.

Every objective is maximised. A ratio the run cannot define (fewer than two returns, no
drawdown for Calmar) is ``None``: the trial is pruned with that reason rather than scored.
"""

from __future__ import annotations

import enum

from streambot.backtest.metrics import BotMetrics

MIN_DRAWDOWN_PCT = 1.0


class Objective(enum.StrEnum):
    PROFIT = "profit"
    SHARPE = "sharpe"
    SORTINO = "sortino"
    CALMAR = "calmar"
    PROFIT_DRAWDOWN = "profit_drawdown"


def score(metrics: BotMetrics, objective: Objective) -> float | None:
    if objective is Objective.PROFIT:
        return metrics.total_pnl_pct if metrics.total_pnl_pct is not None else 0.0
    if objective is Objective.SHARPE:
        return metrics.sharpe
    if objective is Objective.SORTINO:
        return metrics.sortino
    if objective is Objective.CALMAR:
        return metrics.calmar
    profit = metrics.total_pnl_pct if metrics.total_pnl_pct is not None else 0.0
    return profit / max(metrics.max_drawdown_pct, MIN_DRAWDOWN_PCT)


__all__ = ["Objective", "score"]
