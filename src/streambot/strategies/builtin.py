"""The built-in strategies' specs, in the order the registry registers them."""

from typing import Any

from streambot.strategies import (
    bollinger,
    dca,
    ema_crossover,
    grid,
    macd_cross,
    rsi_reversion,
    sma_crossover,
    threshold,
)
from streambot.strategies.base import StrategySpec

BUILTIN_SPECS: tuple[StrategySpec[Any], ...] = (
    bollinger.SPEC,
    dca.SPEC,
    ema_crossover.SPEC,
    grid.SPEC,
    macd_cross.SPEC,
    rsi_reversion.SPEC,
    sma_crossover.SPEC,
    threshold.SPEC,
)
