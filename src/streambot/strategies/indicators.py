"""O(1) incremental indicators on TA-Lib's streaming handles.

A TA-Lib handle needs its look-back of history before it opens; until then the indicator
collects prices and reports ``None``. After that every update is one C call, never a pass over
history.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import talib
from talib import stream

# Exported at run time but missing from the package's type stubs.
InsufficientHistory: type[Exception] = talib.InsufficientHistory  # type: ignore[attr-defined]


class StreamIndicator:
    """One single-output TA-Lib stream function (EMA, SMA, RSI, ...) fed one value at a time."""

    __slots__ = ("_history", "_open", "_params", "handle", "value")

    def __init__(self, function: Callable[..., Any], **params: int) -> None:
        self._open = function
        self._params = params
        self._history: list[float] | None = []
        self.handle: Any = None
        self.value: float | None = None

    @property
    def ready(self) -> bool:
        return self.handle is not None

    def update(self, price: float) -> float | None:
        handle = self.handle
        if handle is not None:
            value: float = handle.update(price)
            self.value = value
            return value
        history = self._history
        assert history is not None
        history.append(price)
        try:
            self.handle = self._open(np.asarray(history, dtype=np.float64), **self._params)
        except InsufficientHistory:
            return None
        self._history = None
        self.value = float(self.handle.value)
        return self.value


def ema(period: int) -> StreamIndicator:
    return StreamIndicator(stream.EMA, timeperiod=period)


def sma(period: int) -> StreamIndicator:
    return StreamIndicator(stream.SMA, timeperiod=period)


def rsi(period: int) -> StreamIndicator:
    return StreamIndicator(stream.RSI, timeperiod=period)
