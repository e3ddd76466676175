"""Backtests: recorded or candle-derived ticks through the live engine on a ManualClock."""
