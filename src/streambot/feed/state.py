"""The feed's state machine: where it is, since when, how much of its run it was live.

Every change is logged once and published as a ``FeedStateChanged`` event (``feed.state``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from streambot.bus import Bus
from streambot.clock import Clock
from streambot.domain import FeedState
from streambot.events import FeedStateChanged

log = logging.getLogger("streambot.feed.client")


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """A snapshot of the feed for the API, metrics and health checks."""

    state: FeedState
    running: bool  # the run() task is alive
    connected: bool
    messages_received: int
    tickers: int
    heartbeats: int
    malformed: int
    unknown: int
    errors: int
    sequence_gaps: int
    out_of_order: int
    invalid_tickers: int  # tickers dropped: price/bid/ask not positive and finite, or bid > ask
    sequence_resyncs: int  # sequence numbers that fell far back, taken as the new baseline
    heartbeat_gaps: int
    reconnects: int
    polls: int
    polled_tickers: int
    uptime_ratio: float  # share of the time since run() started spent live
    messages_per_second: float
    last_message_age_s: float | None
    last_error: str
    subscriptions: dict[str, list[str]]


class FeedStateMachine:
    def __init__(self, bus: Bus, clock: Clock, *, where: str, products: int) -> None:
        self._bus = bus
        self._clock = clock
        self._where = where  # the socket's URL, for the log
        self._products = products
        self.state = FeedState.STOPPED
        self._since = 0.0  # monotonic
        self._run_started: float | None = None  # monotonic; None = never ran
        self._live_seconds = 0.0

    def run_started(self) -> None:
        self._run_started = self._clock.monotonic()
        self._live_seconds = 0.0

    @property
    def uptime_ratio(self) -> float:
        """Share of the time since ``run()`` started that the feed was live (1.0 before it ran)."""
        if self._run_started is None:
            return 1.0
        now = self._clock.monotonic()
        live = self._live_seconds + (now - self._since if self.state is FeedState.LIVE else 0.0)
        total = now - self._run_started
        return min(1.0, live / total) if total > 0 else 1.0

    def move(self, state: FeedState, reason: str) -> None:
        """Enter ``state`` (reconnecting is re-entered: each retry is news; the others are not)."""
        if state is self.state and state is not FeedState.RECONNECTING:
            return
        now = self._clock.monotonic()
        if self.state is FeedState.LIVE:
            self._live_seconds += now - self._since
        self._since = now
        self.state = state
        if state is FeedState.LIVE:
            log.info("🔗 Feed live: %d products on %s", self._products, self._where)
        elif state is FeedState.STOPPED:
            log.info("🛑 Feed stopped (%s)", reason)
        elif state is FeedState.STALE:
            log.warning("⚠️ Feed stale: %s on %s", reason, self._where)
        elif state is FeedState.RECONNECTING:
            log.info("🔄 Feed reconnecting: %s", reason)
        else:
            log.info("🔌 Feed %s: %s (%s)", state.value, self._where, reason)
        self._bus.publish(FeedStateChanged(state=state, reason=reason, since=self._clock.time()))
