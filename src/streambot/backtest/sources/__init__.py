"""Backtest market data: recordings, Parquet candles and JSON-lines price files, streamed and
merged into one stream of ``(at, tick)`` in replay-time order (``BacktestData``)."""

from streambot.backtest.sources.backtest_data import BacktestData, DataSourceError, SourceKind
from streambot.backtest.sources.ticks import TimedTick

__all__ = ["BacktestData", "DataSourceError", "SourceKind", "TimedTick"]
