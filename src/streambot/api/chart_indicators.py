"""What a bot's chart draws: the indicators its strategy decides on, with the bot's own periods.

Read from the strategy's name and the bot's parameters (the periods it was given), so the lines on
the chart are the ones the bot trades on. A strategy not listed here (a user's) draws none.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class ChartIndicator(BaseModel):
    kind: Literal["ema", "sma", "bollinger", "rsi", "macd"]
    label: str
    params: dict[str, float]  # period, deviations, fast/slow/signal
    pane: Literal["price", "oscillator"]  # on the candles, or in a pane of its own below
    levels: list[float] = []  # horizontal lines of an oscillator (RSI's oversold/overbought)


def _number(params: dict[str, Any], name: str, default: float) -> float:
    value = params.get(name, default)
    return float(value) if isinstance(value, int | float | str) else default


def chart_indicators(strategy: str, params: dict[str, Any]) -> list[ChartIndicator]:
    """The indicators of ``strategy`` with the periods in ``params`` (defaults where unset)."""
    if strategy in {"ema_crossover", "sma_crossover"}:
        kind: Literal["ema", "sma"] = "ema" if strategy == "ema_crossover" else "sma"
        fast, slow = _number(params, "fast", 12), _number(params, "slow", 26)
        return [
            ChartIndicator(kind=kind, label=f"{kind.upper()} {n:g}", params={"period": n}, pane="price")
            for n in (fast, slow)
        ]
    if strategy == "bollinger":
        period, deviations = _number(params, "period", 20), _number(params, "deviations", 2.0)
        return [
            ChartIndicator(
                kind="bollinger",
                label=f"BB {period:g} ±{deviations:g}σ",
                params={"period": period, "deviations": deviations},
                pane="price",
            )
        ]
    if strategy == "rsi_reversion":
        period = _number(params, "period", 14)
        return [
            ChartIndicator(
                kind="rsi",
                label=f"RSI {period:g}",
                params={"period": period},
                pane="oscillator",
                levels=[_number(params, "oversold", 30.0), _number(params, "overbought", 70.0)],
            )
        ]
    if strategy == "macd_cross":
        fast, slow, signal = (_number(params, n, d) for n, d in (("fast", 12), ("slow", 26), ("signal", 9)))
        return [
            ChartIndicator(
                kind="macd",
                label=f"MACD {fast:g}/{slow:g}/{signal:g}",
                params={"fast": fast, "slow": slow, "signal": signal},
                pane="oscillator",
                levels=[0.0],
            )
        ]
    return []
