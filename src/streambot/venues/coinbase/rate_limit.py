"""Client-side rate limiting, so the platform itself never earns a 429 from Coinbase.

Coinbase allows 30 requests/s per key on private endpoints and 10/s per IP on public ones. A
classic token bucket of capacity N refilled at N/s lets 2N requests through in one second (a full
bucket, then its refill), which a server counting a sliding or fixed one-second window answers
with 429. So each token here is *lent* for one window: a request takes a token and the token comes
back one window (plus a small margin for clock and network jitter) after it was taken. No window
ever sees more than N requests, whatever algorithm the server counts with, and a steady caller
still gets the full N/s.

Callers queue in FIFO order and wait; a request is never dropped. A 429 or an exhausted
``x-ratelimit-remaining`` pauses the whole bucket until the server's reset time, so every caller
sharing it backs off together instead of each finding out with its own 429.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Mapping
from typing import Final

from streambot.clock import Clock

log = logging.getLogger(__name__)

PRIVATE_PER_S: Final = 30
PUBLIC_PER_S: Final = 10
WINDOW_S: Final = 1.0
MARGIN_S: Final = 0.1  # server-side queueing can bunch arrivals closer than we sent them
RESET_CAP_S: Final = 10.0
DEFAULT_429_PAUSE_S: Final = 1.0


class RateLimiter:
    """At most ``limit`` acquisitions in any ``window`` seconds; waiters are served in order."""

    def __init__(
        self,
        name: str,
        limit: int,
        *,
        clock: Clock,
        window: float = WINDOW_S,
        margin: float = MARGIN_S,
    ) -> None:
        if limit < 1:
            raise ValueError(f"rate limit {name}: limit must be at least 1, not {limit}")
        if window <= 0:
            raise ValueError(f"rate limit {name}: window must be positive")
        self.name = name
        self.limit = limit
        self._window = window + margin
        self._clock = clock
        self._taken: deque[float] = deque()  # when each token still on loan was taken
        self._lock = asyncio.Lock()  # FIFO: the first caller to queue is the first served
        self._paused_until = 0.0
        self.acquired = 0
        self.waits = 0  # acquisitions that had to wait
        self.wait_seconds = 0.0
        self.pauses = 0  # 429s / exhausted headers that paused the bucket

    async def acquire(self) -> float:
        """Take one token, waiting as long as needed; returns the seconds waited."""
        started = self._clock.monotonic()
        async with self._lock:
            while True:
                now = self._clock.monotonic()
                self._release_returned(now)
                wait = self._paused_until - now
                if len(self._taken) >= self.limit:
                    wait = max(wait, self._taken[0] + self._window - now)
                if wait <= 0:
                    break
                await self._clock.sleep(wait)
            self._taken.append(now)
        self.acquired += 1
        waited = self._clock.monotonic() - started
        if waited > 0.001:
            self.waits += 1
            self.wait_seconds += waited
        return waited

    def room(self) -> int:
        """Requests that would go through now without waiting (a benchmark paces itself on it)."""
        now = self._clock.monotonic()
        self._release_returned(now)
        return 0 if self._paused_until > now else max(0, self.limit - len(self._taken))

    def pause(self, seconds: float, reason: str, *, warn: bool = True) -> None:
        """Hold every caller for ``seconds`` (the server said we are over its limit)."""
        seconds = min(max(seconds, 0.0), RESET_CAP_S)
        now = self._clock.monotonic()
        until = now + seconds
        if until <= self._paused_until:
            return
        already_paused = self._paused_until > now
        self._paused_until = until
        self.pauses += 1
        # One line per episode at WARNING; a storm extending the pause goes to DEBUG.
        level = logging.WARNING if warn and not already_paused else logging.DEBUG
        log.log(level, "⏳ Rate limit %s: pausing %.2fs (%s)", self.name, seconds, reason)

    def observe(self, headers: Mapping[str, str]) -> None:
        """Align with the server's view from ``x-ratelimit-*`` response headers."""
        limit = _number(headers.get("x-ratelimit-limit"))
        if limit is not None and 1 <= limit < self.limit:
            # Coinbase may tighten its limits under load; follow it down, never above our own.
            log.info("Rate limit %s: server allows %d/s, lowering from %d", self.name, limit, self.limit)
            self.limit = int(limit)
        remaining = _number(headers.get("x-ratelimit-remaining"))
        if remaining is not None and remaining <= 0:
            # The server's next token is one request-interval away (its reset header says when
            # the whole window is back, which is far more than we need to wait for one request).
            one_token = self._window / self.limit
            self.pause(
                min(reset_seconds(headers, self._clock.time()) or one_token, one_token),
                "x-ratelimit-remaining is 0",
                warn=False,
            )

    def _release_returned(self, now: float) -> None:
        taken = self._taken
        window = self._window
        while taken and taken[0] + window <= now:
            taken.popleft()


def reset_seconds(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until ``x-ratelimit-reset`` (given as seconds from now, or as a UNIX time; ``now``
    is the current UNIX time)."""
    value = _number(headers.get("x-ratelimit-reset"))
    if value is None:
        return None
    if value > 1e9:  # an absolute UNIX time
        value -= now
    return min(max(value, 0.0), RESET_CAP_S)


def _number(raw: str | None) -> float | None:
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
