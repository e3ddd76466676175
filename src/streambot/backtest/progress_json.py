"""``--progress-json``: the replay's progress as JSON lines on stderr, for a program to read.

The API's backtest worker runs ``streambot backtest`` in a process of its own and pushes these
lines to the dashboard; a person at a terminal gets the rich bar instead. One line every
``interval_s`` at most (the engine reports every 65,536 ticks), and always the last one.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import orjson


class ProgressLines:
    """``{"ticks": …, "at": …, "ticks_per_s": …}`` lines; ``at`` is the data time reached (UNIX s)."""

    def __init__(self, out: TextIO | None = None, interval_s: float = 0.5) -> None:
        self._out = out if out is not None else sys.stderr
        self._interval_s = interval_s
        # perf_counter measures the replay's own speed; it is not the run's notion of time.
        self._began = time.perf_counter()
        self._last_written = -interval_s
        self._pending: tuple[int, float] | None = None

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pending is not None:
            self._write(*self._pending)

    def update(self, ticks: int, at: float) -> None:
        elapsed = time.perf_counter() - self._began
        if elapsed - self._last_written >= self._interval_s:
            self._last_written = elapsed
            self._write(ticks, at)
        else:
            self._pending = (ticks, at)

    def _write(self, ticks: int, at: float) -> None:
        self._pending = None
        elapsed = time.perf_counter() - self._began
        rate = round(ticks / elapsed) if elapsed > 0 else 0
        line = orjson.dumps({"ticks": ticks, "at": at, "ticks_per_s": rate})
        self._out.write(line.decode() + "\n")
        self._out.flush()
