"""Latency figures cheap enough to record on every tick.

A Prometheus histogram observe takes a lock and walks buckets; on the hot path we only append an
integer to an array (the evaluator calls the array's own ``append``: no Python frame per tick).
The figures over every sample since start (count, sum, maximum, the power-of-two histogram) are
folded in with numpy each time the ring fills, and the samples not folded yet are added when
somebody asks; percentiles come from the most recent ``size`` samples alone.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

_BUCKETS = 65  # a sample's bucket is its bit length: 0 (≤ 0) to 64
_EXACT_BITS = 2**53 - 1  # a float holds every integer up to here, so frexp gives the bit length


_CHUNK = 4096  # samples gathered in a list before numpy folds them in (and into the ring)


class LatencyStats:
    __slots__ = (
        "_buckets",
        "_chunk",
        "_filled",
        "_folded",
        "_max",
        "_next",
        "_pending",
        "_ring",
        "_size",
        "_total",
    )

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        # The samples not folded yet, in order: a list, so that a hot path may hold its
        # ``append`` (``appender``), one C call with no Python frame and no integer conversion.
        self._pending: list[int] = []
        self._chunk = min(size, _CHUNK)  # folded once this many are pending
        # The most recent ``size`` samples folded, as a circular buffer: the percentiles read it
        # with the pending ones.
        self._ring = np.zeros(size, dtype=np.int64)
        self._next = 0  # the ring's next slot
        self._filled = 0  # the ring's slots written so far (up to size)
        self._folded = 0
        self._total = 0
        self._max = 0
        # Power-of-two histogram over every folded sample: the bucket is the sample's bit
        # length, cumulative counts for Prometheus.
        self._buckets = np.zeros(_BUCKETS, dtype=np.int64)

    def record(self, ns: int) -> None:
        pending = self._pending
        pending.append(ns)
        if len(pending) >= self._chunk:
            self._fold()

    def appender(self) -> Callable[[int], None] | None:
        """What a hot path calls with each sample instead of ``record``: the pending list's own
        append. Its caller must call ``settle`` every so often (each few dozen samples) so the
        samples are folded in before they pile up. None: this recorder keeps nothing, skip it."""
        return self._pending.append

    def settle(self) -> None:
        """Fold the pending samples in if enough came through ``appender``."""
        if len(self._pending) >= self._chunk:
            self._fold()

    def _fold(self) -> None:
        pending = self._pending
        samples = np.fromiter(pending, np.int64, len(pending))
        pending.clear()  # the same list: an appender handed out keeps working
        count = len(samples)
        self._folded += count
        self._total += int(samples.sum())
        self._max = max(self._max, int(samples.max()))
        self._buckets += _bucket_counts(samples)
        ring, size = self._ring, self._size
        if count >= size:
            ring[:] = samples[-size:]
            self._next = 0
        else:
            at = self._next
            first = min(count, size - at)
            ring[at : at + first] = samples[:first]
            ring[: count - first] = samples[first:]
            self._next = (at + count) % size
        self._filled = min(size, self._filled + count)

    def _pending_samples(self) -> np.ndarray:
        """The samples recorded since the last fold."""
        return np.array(self._pending, dtype=np.int64)

    @property
    def count(self) -> int:
        return self._folded + len(self._pending)

    @property
    def total_ns(self) -> int:
        return self._total + sum(self._pending)

    @property
    def max_ns(self) -> int:
        pending = self._pending
        return max(self._max, *pending) if pending else self._max

    def recent(self) -> list[int]:
        """The most recent ``size`` samples (fewer before there were as many), sorted."""
        ring, size, at = self._ring, self._size, self._next
        folded = ring[: self._filled] if self._filled < size else np.concatenate((ring[at:], ring[:at]))
        pending = self._pending
        if pending:
            folded = np.concatenate((folded, np.array(pending, dtype=np.int64)))[-size:]
        return sorted(folded.tolist())

    def percentile_us(self, pct: float) -> float:
        """Percentile over the most recent samples (the ring), in microseconds."""
        return _percentile_us(self.recent(), pct)

    def histogram(self, low_bits: int = 10, high_bits: int = 31) -> list[tuple[float, int]]:
        """Cumulative (upper bound in seconds, count) pairs: 2**low_bits ns (~1 µs) to ~2 s.

        The +Inf bucket is ``count``; samples below the first bound are counted in it.
        """
        buckets = [int(n) for n in self._buckets + _bucket_counts(self._pending_samples())]
        running = sum(buckets[: low_bits + 1])
        out = [(2**low_bits / 1e9, running)]
        for bits in range(low_bits + 1, high_bits + 1):
            running += buckets[bits]
            out.append((2**bits / 1e9, running))
        return out

    @property
    def mean_us(self) -> float:
        count = self.count
        return self.total_ns / count / 1000.0 if count else 0.0

    def summary(self) -> dict[str, float]:
        recent = self.recent()
        if not recent:
            return {"count": 0, "mean_us": 0.0, "p50_us": 0.0, "p99_us": 0.0, "max_us": 0.0}
        return {
            "count": self.count,
            "mean_us": round(self.mean_us, 2),
            "p50_us": round(_percentile_us(recent, 50), 2),
            "p99_us": round(_percentile_us(recent, 99), 2),
            "max_us": round(self.max_ns / 1000.0, 2),
        }


class NoLatency(LatencyStats):
    """A recorder that keeps nothing: for a replay, whose ticks carry no receive time
    (``received_ns`` is 0), so a tick-to-decision figure would mean nothing. Reads as empty."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(1)

    def record(self, ns: int) -> None:
        return None

    def appender(self) -> Callable[[int], None] | None:
        return None


def _bucket_counts(samples: np.ndarray) -> np.ndarray:
    """How many samples have each bit length (0 for a sample ≤ 0)."""
    positive = np.clip(samples, 0, _EXACT_BITS).astype(np.float64)
    _, bits = np.frexp(positive)  # x = m * 2**bits with 0.5 ≤ m < 1: bits is x's bit length
    return np.bincount(bits, minlength=_BUCKETS)[:_BUCKETS].astype(np.int64)


def _percentile_us(ordered: list[int], pct: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100.0))] / 1000.0
