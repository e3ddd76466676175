"""Events per second from a growing count, on the clock it was given."""

from __future__ import annotations

from streambot.clock import Clock


class RateMeter:
    """Events per second between two reads at least ``min_window`` apart.

    Until a second read is that far from the first, the rate is the average since ``started_at``
    (the clock's monotonic seconds at which the count was 0), so a single read never shows 0/s
    for a live stream.
    """

    __slots__ = ("_at", "_clock", "_count", "_read", "min_window", "rate")

    def __init__(self, clock: Clock, started_at: float, min_window: float = 1.0) -> None:
        self._clock = clock
        self.min_window = min_window
        self._count = 0
        self._at = started_at
        self._read = False
        self.rate = 0.0

    def update(self, count: int) -> float:
        now = self._clock.monotonic()
        elapsed = now - self._at
        if elapsed >= self.min_window or (not self._read and elapsed > 0):
            self._read = True
            self.rate = (count - self._count) / elapsed
            self._count, self._at = count, now
        return self.rate
