"""The alert conditions, judged on plain readings so they can be tested without a platform."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

WARNING: Final = "warning"
CRITICAL: Final = "critical"

LIVE: Final = "live"
"""The one feed state that counts as up for the feed-down alert: every other one (``polling``
included, however well REST polling works) means no live WebSocket, and entries are refused."""


class FeedOutage:
    """How long the market feed has been without a live WebSocket, whatever the flapping.

    An outage starts when the feed is seen in any state but ``live`` and ends only once the feed
    has stayed live for ``settle_s`` seconds; until then every second not live adds up, so a
    socket that comes back for a moment between drops does not restart the count. States come
    from the feed's events (every flap) and from the periodic readings alike; times are
    monotonic seconds.
    """

    def __init__(self, settle_s: float) -> None:
        self.settle_s = settle_s
        self.state: str | None = None
        self.started: float | None = None  # when the outage began; None: no outage
        self._down_before = 0.0  # seconds not live in this outage, before the current stretch
        self._down_from: float | None = None  # when the current stretch not live began
        self._live_since: float | None = None

    def observe(self, state: str | None, now: float) -> None:
        if state is None:  # no feed (not started): nothing to judge
            return
        if state == LIVE:
            if self._down_from is not None:
                self._down_before += now - self._down_from
                self._down_from = None
            if self._live_since is None:
                self._live_since = now
        else:
            self._live_since = None
            if self.started is None:
                self.started = now
            if self._down_from is None:
                self._down_from = now
        self.state = state

    def down_for(self, now: float) -> float:
        """Seconds without a live socket in the current outage; 0 when there is none."""
        if self.started is None:
            return 0.0
        if self._live_since is not None and now - self._live_since >= self.settle_s:
            self.started, self._down_before = None, 0.0
            return 0.0
        current = now - self._down_from if self._down_from is not None else 0.0
        return self._down_before + current


@dataclass(frozen=True, slots=True)
class Readings:
    """What the rules look at, read from the platform at one instant."""

    feed_state: str | None  # None: no feed (not started)
    evaluation_errors: int
    cache_hits: int
    cache_misses: int
    breaker_state: str | None
    # Background tasks that died again and again within the supervisor's window → last error.
    failing_tasks: Mapping[str, str] = field(default_factory=dict)


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
        feed_live_settle_s: float = 10.0,
        breaker_clear_after_s: float = 30.0,
        error_quiet_s: float = 60.0,
        min_cache_lookups: int = 20,
        min_cache_misses: int = 10,
        cache_window: int = 12,
        min_hit_rate: float = 0.9,
    ) -> None:
        self.feed_down_after_s = feed_down_after_s
        self.feed = FeedOutage(feed_live_settle_s)
        # Hysteresis: raised when the breaker opens, cleared once it stayed closed this long.
        self.breaker_clear_after_s = breaker_clear_after_s
        self._breaker_alerting = False
        self._breaker_not_closed_at = 0.0
        self.error_quiet_s = error_quiet_s
        self.min_cache_lookups = min_cache_lookups
        # A low hit rate matters when it means many REST calls (the old system's flood), not
        # when a few bots trade and each fill rightly invalidates the cache.
        self.min_cache_misses = min_cache_misses
        self.min_hit_rate = min_hit_rate
        self._errors_seen: int | None = None
        self._last_error_at: float | None = None
        self._errors_recent = 0
        self._cache: deque[tuple[int, int]] = deque(maxlen=cache_window)

    def judge(self, r: Readings, now: float) -> list[Condition]:
        """The conditions that hold at ``now`` (monotonic seconds)."""
        out: list[Condition] = []
        self.feed.observe(r.feed_state, now)
        down_for = self.feed.down_for(now)
        if down_for >= self.feed_down_after_s:
            out.append(
                Condition(
                    "feed_down",
                    CRITICAL,
                    f"market-data feed without a live socket for {down_for:.0f} s "
                    f"of the last {now - (self.feed.started or now):.0f} s (now {self.feed.state}): "
                    "entries blocked, bots are not seeing live prices",
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

        breaker = r.breaker_state
        if breaker == "open":
            self._breaker_alerting = True
        if breaker is not None and breaker != "closed":
            self._breaker_not_closed_at = now
        closed = breaker is None or breaker == "closed"
        if (
            self._breaker_alerting
            and closed
            and now - self._breaker_not_closed_at >= self.breaker_clear_after_s
        ):
            self._breaker_alerting = False
        if self._breaker_alerting:
            message = (
                "exchange circuit breaker open: REST calls fail fast"
                if breaker == "open"
                else f"exchange circuit breaker {breaker}, closed for under {self.breaker_clear_after_s:g} s"
            )
            out.append(Condition("breaker_open", CRITICAL, message))

        for name, error in sorted(r.failing_tasks.items()):
            out.append(
                Condition(
                    f"task_dying.{name}",
                    CRITICAL,
                    f"background task {name} keeps dying and being restarted (last: {error})",
                )
            )
        return out
