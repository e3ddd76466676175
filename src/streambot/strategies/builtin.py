"""Imports every built-in strategy so each registers itself."""

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

__all__ = [
    "bollinger",
    "dca",
    "ema_crossover",
    "grid",
    "macd_cross",
    "rsi_reversion",
    "sma_crossover",
    "threshold",
]
