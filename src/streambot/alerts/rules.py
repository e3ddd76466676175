"""The alert conditions, judged on plain readings so they can be tested without a platform."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final

WARNING: Final = "warning"
CRITICAL: Final = "critical"

FEED_DOWN_STATES: Final = frozenset({"connecting", "stale", "reconnecting", "stopped"})
"""Not receiving live prices. "polling" is not among them: it is what a user who stopped the
stream asked for, and prices still arrive."""


@dataclass(frozen=True, slots=True)
class Readings:
    """What the rules look at, read from the platform at one instant."""

    feed_state: str | None  # None: no feed (not started)
    evaluation_errors: int
    cache_hits: int
    cache_misses: int
    breaker_state: str | None


@dataclass(frozen=True, slots=True)
class Condition:
    code: str
    severity: str
    message: str


class Rules:
    """Remembers what it needs across readings (when the feed went down, recent error counts)."""

    def __init__(
        self,
        *,
        feed_down_after_s: float = 30.0,
        error_quiet_s: float = 60.0,
        min_cache_lookups: int = 20,
        min_cache_misses: int = 10,
        cache_window: int = 12,
        min_hit_rate: float = 0.9,
    ) -> None:
        self.feed_down_after_s = feed_down_after_s
        self.error_quiet_s = error_quiet_s
        self.min_cache_lookups = min_cache_lookups
        # A low hit rate matters when it means many REST calls (the old system's flood), not
        # when a few bots trade and each fill rightly invalidates the cache.
        self.min_cache_misses = min_cache_misses
        self.min_hit_rate = min_hit_rate
        self._feed_state: str | None = None
        self._feed_state_since = 0.0
        self._errors_seen: int | None = None
        self._last_error_at: float | None = None
        self._errors_recent = 0
        self._cache: deque[tuple[int, int]] = deque(maxlen=cache_window)

    def judge(self, r: Readings, now: float) -> list[Condition]:
        """The conditions that hold at ``now`` (monotonic seconds)."""
        out: list[Condition] = []
        if r.feed_state != self._feed_state:
            self._feed_state, self._feed_state_since = r.feed_state, now
        down_for = now - self._feed_state_since
        if r.feed_state in FEED_DOWN_STATES and down_for >= self.feed_down_after_s:
            out.append(
                Condition(
                    "feed_down",
                    CRITICAL,
                    f"market-data feed {r.feed_state} for {down_for:.0f} s: bots are not seeing live prices",
                )
            )

        if self._errors_seen is not None and r.evaluation_errors > self._errors_seen:
            self._errors_recent += r.evaluation_errors - self._errors_seen
            self._last_error_at = now
        self._errors_seen = r.evaluation_errors
        if self._last_error_at is not None and now - self._last_error_at < self.error_quiet_s:
            out.append(
                Condition(
                    "evaluation_errors",
                    WARNING,
                    f"{self._errors_recent} strategy evaluation error(s); the bots concerned are stopped",
                )
            )
        else:
            self._errors_recent = 0

        self._cache.append((r.cache_hits, r.cache_misses))
        first_hits, first_misses = self._cache[0]
        hits, misses = r.cache_hits - first_hits, r.cache_misses - first_misses
        if (
            hits + misses >= self.min_cache_lookups
            and misses >= self.min_cache_misses
            and hits / (hits + misses) < self.min_hit_rate
        ):
            out.append(
                Condition(
                    "cache_hit_rate",
                    WARNING,
                    f"only {hits / (hits + misses):.0%} of balance lookups spared a REST request "
                    f"(below {self.min_hit_rate:.0%}): the exchange is asked for balances too often",
                )
            )

        if r.breaker_state == "open":
            out.append(
                Condition("breaker_open", CRITICAL, "exchange circuit breaker open: REST calls fail fast")
            )
        return out
