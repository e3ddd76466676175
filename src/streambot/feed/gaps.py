"""Lost frames: jumps in the connection's sequence numbers and in the heartbeat counter.

Each gap is counted, logged once at WARNING and published as a ``FeedGapDetected`` event. A
sequence gap may have swallowed an order update (one counter spans every channel), so the caller
also reconciles orders; see ``FeedClient``.
"""

from __future__ import annotations

from streambot.bus import Bus
from streambot.events import FeedGapDetected
from streambot.feed.log_once import OnceLogger


class GapDetector:
    def __init__(self, bus: Bus, warn: OnceLogger) -> None:
        self._bus = bus
        self._warn = warn
        self.sequence_gaps = 0
        self.sequence_resyncs = 0
        self.heartbeat_gaps = 0
        self.heartbeats = 0
        self._last_heartbeat: int | None = None

    def new_connection(self) -> None:
        """Heartbeat counters start again on every connection."""
        self._last_heartbeat = None

    def sequence_gap(self, expected: int, got: int, channel: str) -> None:
        self.sequence_gaps += 1
        self._warn.warn(
            "gap", "", "Feed sequence gap: expected %d, got %d (%d missed)", expected, got, got - expected
        )
        self._bus.publish(FeedGapDetected(kind="sequence", expected=expected, got=got, channel=channel))

    def sequence_resync(self, last: int, got: int, channel: str) -> None:
        """The numbers fell back: the new one becomes the baseline (counted as a gap too, since
        frames between may have been lost)."""
        self.sequence_gaps += 1
        self.sequence_resyncs += 1
        self._warn.warn("resync", "", "Feed sequence fell back from %d to %d: resynchronised", last, got)
        self._bus.publish(FeedGapDetected(kind="sequence", expected=last + 1, got=got, channel=channel))

    def heartbeat(self, counter: int | None) -> None:
        self.heartbeats += 1
        previous = self._last_heartbeat
        if counter is None:
            return
        if previous is not None and counter > previous + 1:
            self.heartbeat_gaps += 1
            self._warn.warn("heartbeat-gap", "", "Feed missed heartbeats: %d → %d", previous, counter)
            self._bus.publish(
                FeedGapDetected(kind="heartbeat", expected=previous + 1, got=counter, channel="heartbeats")
            )
        self._last_heartbeat = counter
