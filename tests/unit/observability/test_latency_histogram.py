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


def test_percentiles_cover_the_ring_only_and_agree_with_the_summary() -> None:
    stats = LatencyStats(size=4)
    assert stats.summary()["p99_us"] == 0.0
    assert stats.percentile_us(50) == 0.0
    for ns in (900_000, 1_000, 2_000, 3_000, 4_000):  # the first falls out of the ring
        stats.record(ns)
    assert stats.recent() == [1_000, 2_000, 3_000, 4_000]
    assert stats.percentile_us(50) == 3.0
    assert stats.percentile_us(99) == 4.0
    summary = stats.summary()
    assert (summary["p50_us"], summary["p99_us"]) == (3.0, 4.0)
    assert summary["max_us"] == 900.0  # the maximum is over every sample
    assert summary["count"] == 5
