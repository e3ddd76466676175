"""What a bot's chart draws: the indicators its strategy declares it decides on (``chart`` of its
``StrategySpec``), with the bot's own periods. A user's strategy declares them the same way."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from streambot.strategies.registry import StrategyError, get_spec


class ChartIndicator(BaseModel):
    kind: Literal["ema", "sma", "bollinger", "rsi", "macd"]
    label: str
    params: dict[str, float]  # period, deviations, fast/slow/signal
    pane: Literal["price", "oscillator"]  # on the candles, or in a pane of its own below
    levels: list[float] = []  # horizontal lines of an oscillator (RSI's oversold/overbought)


def chart_indicators(strategy: str, params: dict[str, Any]) -> list[ChartIndicator]:
    """The indicators ``strategy`` declares (its spec's ``chart``), with the periods in ``params``;
    none for a strategy that declares nothing or that is no longer loaded."""
    try:
        spec = get_spec(strategy)
    except StrategyError:
        return []
    return [
        ChartIndicator(
            kind=line.kind,
            label=line.label,
            params={name: float(value) for name, value in line.params.items()},
            pane=line.pane,
            levels=list(line.levels),
        )
        for line in spec.chart_lines(params)
    ]
