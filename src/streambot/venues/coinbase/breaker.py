"""A circuit breaker around the exchange's REST API.

After ``threshold`` consecutive failures (transport errors, timeouts, 5xx) the circuit opens and
calls fail at once with ``CircuitOpen`` instead of piling up behind a dead venue; the executor
reads that as "place no new entries". After ``cooldown`` seconds one probe call is let through
(half-open): its success closes the circuit, its failure opens it again. Rejections (4xx,
``success:false``) and rate limiting are answers from a healthy venue and do not count.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from streambot.exchange import ExchangeError

log = logging.getLogger(__name__)

CLOSED: Final = "closed"
OPEN: Final = "open"
HALF_OPEN: Final = "half_open"
STATES: Final = (CLOSED, OPEN, HALF_OPEN)


class CircuitOpen(ExchangeError):
    """The exchange has been failing; the call was not sent."""


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, str], None] | None = None,
    ) -> None:
        if threshold < 1:
            raise ValueError("circuit breaker threshold must be at least 1")
        if cooldown <= 0:
            raise ValueError("circuit breaker cooldown must be positive")
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self.on_change = on_change
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.opened = 0  # times the circuit opened
        self.rejected = 0  # calls refused while open
        self.last_error = ""

    @property
    def state(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.cooldown:
            return HALF_OPEN
        return self._state

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    def before_call(self, what: str) -> None:
        """Raise ``CircuitOpen`` unless this call may go out now."""
        state = self.state
        if state == CLOSED:
            return
        if state == HALF_OPEN and not self._probing:
            self._probing = True  # this call is the probe; the others keep failing fast
            self._transition(HALF_OPEN, f"probing with {what}")
            return
        self.rejected += 1
        retry_in = max(0.0, self._opened_at + self.cooldown - self._clock())
        raise CircuitOpen(
            f"{what}: not sent, the exchange circuit is open after {self._failures} consecutive "
            f"failures (last: {self.last_error}); next probe in {retry_in:.1f}s",
            code="CIRCUIT_OPEN",
        )

    def record_success(self) -> None:
        self._failures = 0
        self._probing = False
        if self._state != CLOSED:
            self._transition(CLOSED, "probe succeeded")

    def abandon(self) -> None:
        """The call ended without a verdict (cancelled): let another call probe."""
        self._probing = False

    def record_failure(self, error: str) -> None:
        self._failures += 1
        self.last_error = error
        probing, self._probing = self._probing, False
        if probing or (self._state == CLOSED and self._failures >= self.threshold):
            self._opened_at = self._clock()
            self.opened += 1
            self._transition(OPEN, error)
        elif self._state != CLOSED:
            self._opened_at = self._clock()

    def _transition(self, state: str, reason: str) -> None:
        self._state = state
        if state == OPEN:
            log.error("🔌 Exchange circuit open (%d consecutive failures): %s", self._failures, reason)
        elif state == CLOSED:
            log.info("✅ Exchange circuit closed: %s", reason)
        else:
            log.info("Exchange circuit half-open: %s", reason)
        if self.on_change is not None:
            self.on_change(state, reason)
