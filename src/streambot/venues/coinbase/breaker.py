"""A circuit breaker around the exchange's REST API.

After ``threshold`` consecutive failures (transport errors, timeouts, 5xx) the circuit opens and
calls fail at once with ``CircuitOpen`` instead of piling up behind a dead venue; the executor
reads that as "place no new entries". After ``cooldown`` seconds one probe call is let through
(half-open): its success closes the circuit, its failure opens it again. Rejections (4xx,
``success:false``) and rate limiting are answers from a healthy venue and do not count.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable

from streambot.clock import Clock
from streambot.exchange import CircuitOpen

__all__ = ["BreakerState", "CircuitBreaker", "CircuitOpen"]

log = logging.getLogger(__name__)


class BreakerState(enum.StrEnum):
    """The values are the ``state`` label of the breaker's metric and of ``on_change``."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        clock: Clock,
        threshold: int = 5,
        cooldown: float = 10.0,
        on_change: Callable[[BreakerState, str], None] | None = None,
    ) -> None:
        if threshold < 1:
            raise ValueError("circuit breaker threshold must be at least 1")
        if cooldown <= 0:
            raise ValueError("circuit breaker cooldown must be positive")
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self.on_change = on_change
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.opened = 0  # times the circuit opened
        self.rejected = 0  # calls refused while open
        self.last_error = ""

    @property
    def state(self) -> BreakerState:
        if self._state == BreakerState.OPEN and self._clock.monotonic() - self._opened_at >= self.cooldown:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def before_call(self, what: str) -> None:
        """Raise ``CircuitOpen`` unless this call may go out now."""
        state = self.state
        if state == BreakerState.CLOSED:
            return
        if state == BreakerState.HALF_OPEN and not self._probing:
            self._probing = True  # this call is the probe; the others keep failing fast
            self._transition(BreakerState.HALF_OPEN, f"probing with {what}")
            return
        self.rejected += 1
        retry_in = max(0.0, self._opened_at + self.cooldown - self._clock.monotonic())
        raise CircuitOpen(
            f"{what}: not sent, the exchange circuit is open after {self._failures} consecutive "
            f"failures (last: {self.last_error}); next probe in {retry_in:.1f}s",
            code="CIRCUIT_OPEN",
        )

    def record_success(self) -> None:
        self._failures = 0
        self._probing = False
        if self._state != BreakerState.CLOSED:
            self._transition(BreakerState.CLOSED, "probe succeeded")

    def abandon(self) -> None:
        """The call ended without a verdict (cancelled): let another call probe."""
        self._probing = False

    def record_failure(self, error: str) -> None:
        self._failures += 1
        self.last_error = error
        probing, self._probing = self._probing, False
        if probing or (self._state == BreakerState.CLOSED and self._failures >= self.threshold):
            self._opened_at = self._clock.monotonic()
            self.opened += 1
            self._transition(BreakerState.OPEN, error)
        elif self._state != BreakerState.CLOSED:
            self._opened_at = self._clock.monotonic()

    def _transition(self, state: BreakerState, reason: str) -> None:
        self._state = state
        if state == BreakerState.OPEN:
            log.error("🔌 Exchange circuit open (%d consecutive failures): %s", self._failures, reason)
        elif state == BreakerState.CLOSED:
            log.info("✅ Exchange circuit closed: %s", reason)
        else:
            log.info("Exchange circuit half-open: %s", reason)
        if self.on_change is not None:
            self.on_change(state, reason)
