"""Imports every built-in strategy so each registers itself."""

from streambot.strategies import ema_crossover, threshold

__all__ = ["ema_crossover", "threshold"]
