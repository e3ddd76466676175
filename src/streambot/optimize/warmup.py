"""Whether a slice of data is long enough for a strategy's warm-up with given parameters.

A strategy on candles asks for N closed candles of its timeframe before its first decision
(``history_needed``); one on ticks needs ``bars_needed()`` ticks. The backtest warms bots up from
the data itself, so a span shorter than that never trades: the optimiser says so up front for the
smallest settings of the space, and prunes a trial whose settings need more than its data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from streambot.backtest.metrics import duration_text
from streambot.optimize.space import SearchSpace
from streambot.optimize.tape import TickTape
from streambot.strategies.base import history_needed
from streambot.strategies.registry import StrategyError, build


def warmup_shortfall(
    strategy: str, params: Mapping[str, Any], tape: TickTape, lo: int, hi: int
) -> str | None:
    """Why ticks ``lo``…``hi-1`` are too short for ``strategy`` with ``params``; None when long enough
    (or when the parameters are refused: the replay says why)."""
    try:
        built = build(strategy, params)
    except StrategyError:
        return None
    inner = getattr(built, "inner", built)
    request = history_needed(inner)
    count = hi - lo
    if request is not None:
        needed_s = request.candles * request.timeframe.seconds
        span = tape.at(hi - 1) - tape.at(lo) if count else 0.0
        if span < needed_s:
            return (
                f"the data spans {duration_text(span)}, too short for {strategy}'s warm-up: it needs "
                f"{request.candles} candles of {request.timeframe.value} ({duration_text(needed_s)})"
            )
        return None
    bars = getattr(inner, "bars_needed", None)
    if callable(bars):
        needed = int(bars())
        if count < needed:
            return (
                f"the data holds {count:,} ticks, too few for {strategy}'s warm-up: it needs {needed:,} "
                "ticks (bars of timeframe 'tick')"
            )
    return None


def smallest_params(space: SearchSpace) -> dict[str, Any]:
    """The space's least demanding point: every numeric range at its low end."""
    params: dict[str, Any] = {}
    for r in space.ranges:
        if r.kind == "fixed":
            params[r.name] = r.value
        elif r.kind == "choice":
            params[r.name] = r.choices[0]
        elif r.kind == "int":
            params[r.name] = int(r.low)
        else:
            params[r.name] = r.low
    return params


__all__ = ["smallest_params", "warmup_shortfall"]
