"""Latency figures cheap enough to record on every tick.

A Prometheus histogram observe takes a lock and walks buckets; on the hot path we only append an
integer to a fixed ring and keep a running sum. Percentiles are computed when somebody asks.
"""

from __future__ import annotations

from array import array


class LatencyStats:
    __slots__ = ("_i", "_ring", "_size", "count", "max_ns", "total_ns")

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._ring = array("q", bytes(8 * size))
        self._i = 0
        self.count = 0
        self.total_ns = 0
        self.max_ns = 0

    def record(self, ns: int) -> None:
        self._ring[self._i] = ns
        self._i = (self._i + 1) % self._size
        self.count += 1
        self.total_ns += ns
        if ns > self.max_ns:
            self.max_ns = ns

    def recent(self) -> list[int]:
        filled = min(self.count, self._size)
        return sorted(self._ring[:filled]) if filled < self._size else sorted(self._ring)

    def percentile_us(self, pct: float) -> float:
        """Percentile over the most recent samples (the ring), in microseconds."""
        recent = self.recent()
        if not recent:
            return 0.0
        index = min(len(recent) - 1, int(len(recent) * pct / 100.0))
        return recent[index] / 1000.0

    @property
    def mean_us(self) -> float:
        return self.total_ns / self.count / 1000.0 if self.count else 0.0

    def summary(self) -> dict[str, float]:
        recent = self.recent()
        if not recent:
            return {"count": 0, "mean_us": 0.0, "p50_us": 0.0, "p99_us": 0.0, "max_us": 0.0}
        n = len(recent)
        return {
            "count": self.count,
            "mean_us": round(self.mean_us, 2),
            "p50_us": round(recent[n // 2] / 1000.0, 2),
            "p99_us": round(recent[min(n - 1, int(n * 0.99))] / 1000.0, 2),
            "max_us": round(self.max_ns / 1000.0, 2),
        }
