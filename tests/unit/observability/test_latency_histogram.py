from __future__ import annotations

from streambot.observability.latency import LatencyStats


def test_histogram_is_cumulative_over_every_sample() -> None:
    stats = LatencyStats(size=4)
    for ns in (500, 1_500, 3_000, 3_000, 2_000_000, 10**12):
        stats.record(ns)
    buckets = dict(stats.histogram())
    assert buckets[2**10 / 1e9] == 1  # ≤ ~1 µs
    assert buckets[2**11 / 1e9] == 2
    assert buckets[2**12 / 1e9] == 4
    assert buckets[2**31 / 1e9] == 5  # the 1000 s sample only in +Inf (count)
    assert stats.count == 6
    values = [n for _, n in stats.histogram()]
    assert values == sorted(values)
