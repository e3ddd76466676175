"""The stream's watchdog: declares it stale after ``stale_after`` s of silence, keeps messages/s.

The receive loop only counts frames; the watchdog looks at that count every tenth of the stale
period on the feed's clock, so the hot loop needs neither a per-frame timeout nor a clock read
for staleness. A frame is thus noticed within one watchdog tick of its arrival.
"""

from __future__ import annotations

from collections.abc import Callable

from streambot.clock import Clock

RATE_WINDOW_S = 1.0


class StreamWatchdog:
    def __init__(self, clock: Clock, stale_after: float, frames: Callable[[], int]) -> None:
        if stale_after <= 0:
            raise ValueError("stale_after must be positive")
        self._clock = clock
        self.stale_after = stale_after
        self._frames = frames  # the receive loop's frame counter
        self.interval = min(0.1, stale_after / 10)
        self.rate = 0.0
        self._last_frame_at: float | None = None  # clock.monotonic(); None: no frame seen yet
        self._seen = 0

    @property
    def last_frame_age(self) -> float | None:
        """Seconds since a frame was last seen (to within one watchdog tick); None before any."""
        if self._frames() != self._seen:
            return 0.0
        at = self._last_frame_at
        return None if at is None else self._clock.monotonic() - at

    async def watch(self, connected: Callable[[], bool]) -> float:
        """Return once the stream has been silent for ``stale_after`` s while ``connected()``;
        returns the silence in seconds. Cancelled when the connection ends otherwise."""
        clock = self._clock
        started = clock.monotonic()
        quiet_since = started
        self._seen = rate_count = self._frames()
        rate_from = started
        while connected():
            await clock.sleep(self.interval)
            now = clock.monotonic()
            frames = self._frames()
            if frames != self._seen:
                self._seen = frames
                self._last_frame_at = quiet_since = now
            if now - rate_from >= RATE_WINDOW_S:
                self.rate = (frames - rate_count) / (now - rate_from)
                rate_from, rate_count = now, frames
            if now - quiet_since > self.stale_after:
                self.rate = 0.0
                return now - quiet_since
        return 0.0
