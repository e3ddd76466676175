"""What the readers of one run share: the time window, the skipped lines, the products seen."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from streambot.backtest.result import SkippedLine

__all__ = ["Tally", "Window"]


@dataclass(frozen=True, slots=True)
class Window:
    """Replay times kept: ``start <= at <= end`` (UNIX seconds; open-ended by default)."""

    start: float = -math.inf
    end: float = math.inf


@dataclass(slots=True)
class Tally:
    """Filled in by the readers as they go: complete once the ticks have been read to the end."""

    skipped: list[SkippedLine] = field(default_factory=list)
    products: set[str] = field(default_factory=set)
    candle_derived: bool = False

    def skip(self, file: str, line: int, reason: str) -> None:
        self.skipped.append(SkippedLine(file, line, reason))
