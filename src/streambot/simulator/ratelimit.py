"""Coinbase's REST rate limits: 30 requests/s per key on private endpoints, 10/s per IP on public ones.

A token bucket per client, as deep as one second of requests and refilled continuously: a client
whose own limiter is a bucket of the same rate and depth is never refused, one that bursts past
it gets 429. The ``x-ratelimit-*`` headers go on every answer, refused or not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from streambot.clock import Clock

PRIVATE_PER_SECOND: Final = 30.0
PUBLIC_PER_SECOND: Final = 10.0
_PRUNE_AT: Final = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # UNIX seconds by which the bucket is full again

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
        }


class RateLimitBuckets:
    """Token buckets keyed by client (API key name or peer address)."""

    def __init__(
        self,
        per_second: float,
        *,
        clock: Clock,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.per_second = per_second
        self.capacity = per_second
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, client: str) -> Decision:
        now = self._clock.monotonic()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= _PRUNE_AT:
                self._prune(now)
            bucket = self._buckets[client] = _Bucket(self.capacity, now)
        else:
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.stamp) * self.per_second)
            bucket.stamp = now
        allowed = bucket.tokens >= 1.0
        if allowed:
            bucket.tokens -= 1.0
        missing = self.capacity - bucket.tokens
        reset = math.ceil(self._clock.time() + missing / self.per_second)
        return Decision(allowed, int(self.capacity), max(0, math.floor(bucket.tokens)), reset)

    def _prune(self, now: float) -> None:
        """Forget clients whose bucket has refilled: they are indistinguishable from new ones."""
        full_after = self.capacity / self.per_second
        for key in [k for k, b in self._buckets.items() if now - b.stamp >= full_after]:
            del self._buckets[key]
