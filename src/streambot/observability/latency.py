"""Latency figures cheap enough to record on every tick.

A Prometheus histogram observe takes a lock and walks buckets; on the hot path we only append an
integer to a fixed ring and keep a running sum. Percentiles are computed when somebody asks.
"""

from __future__ import annotations

from array import array


class LatencyStats:
    __slots__ = ("_buckets", "_i", "_ring", "_size", "count", "max_ns", "total_ns")

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._ring = array("q", bytes(8 * size))
        self._i = 0
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0
        # Power-of-two histogram over every sample since start: the bucket is the sample's bit
        # length, one integer op instead of a search, and cumulative counts for Prometheus.
        self._buckets = array("q", bytes(8 * 65))

    def record(self, ns: int) -> None:
        self._buckets[ns.bit_length() if ns > 0 else 0] += 1
        self._ring[self._i] = ns
        self._i = (self._i + 1) % self._size
        self.count += 1
        self.total_ns += ns
        if ns > self.max_ns:
            self.max_ns = ns

    def recent(self) -> list[int]:
        """The samples in the ring, sorted."""
        return sorted(self._ring[: min(self.count, self._size)])

    def percentile_us(self, pct: float) -> float:
        """Percentile over the most recent samples (the ring), in microseconds."""
        return _percentile_us(self.recent(), pct)

    def histogram(self, low_bits: int = 10, high_bits: int = 31) -> list[tuple[float, int]]:
        """Cumulative (upper bound in seconds, count) pairs: 2**low_bits ns (~1 µs) to ~2 s.

        The +Inf bucket is ``count``; samples below the first bound are counted in it.
        """
        buckets = self._buckets
        running = sum(buckets[: low_bits + 1])
        out = [(2**low_bits / 1e9, running)]
        for bits in range(low_bits + 1, high_bits + 1):
            running += buckets[bits]
            out.append((2**bits / 1e9, running))
        return out

    @property
    def mean_us(self) -> float:
        return self.total_ns / self.count / 1000.0 if self.count else 0.0

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


def _percentile_us(ordered: list[int], pct: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100.0))] / 1000.0
