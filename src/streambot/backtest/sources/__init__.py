"""Backtest market data: recordings, Parquet candles and JSON-lines price files, streamed and
merged into one stream of ``(at, tick)`` in replay-time order (``ReplayData``)."""

from streambot.backtest.sources.market_data import DataSourceError, ReplayData, SourceKind
from streambot.backtest.sources.ticks import TimedTick

__all__ = ["DataSourceError", "ReplayData", "SourceKind", "TimedTick"]
