from __future__ import annotations

from streambot.observability.latency import LatencyStats, NoLatency


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


def test_figures_over_every_sample_survive_the_ring_filling_up_many_times() -> None:
    samples = [(i * 7919) % 5_000_000 - 10 for i in range(1, 23)]  # some ≤ 0: bucket 0
    stats = LatencyStats(size=4)
    for ns in samples:
        stats.record(ns)

    assert stats.count == len(samples)
    assert stats.total_ns == sum(samples)
    assert stats.max_ns == max(samples)
    assert stats.mean_us == sum(samples) / len(samples) / 1000.0
    expected = [0] * 65
    for ns in samples:
        expected[ns.bit_length() if ns > 0 else 0] += 1
    for bound, cumulative in stats.histogram(low_bits=0, high_bits=24):
        assert cumulative == sum(expected[: int(bound * 1e9).bit_length()])
    assert stats.recent() == sorted(samples[-4:])


def test_samples_appended_through_the_appender_read_as_recorded_ones_once_settled() -> None:
    samples = [(i * 7919) % 5_000_000 for i in range(1, 23)]
    recorded, appended = LatencyStats(size=4), LatencyStats(size=4)
    append = appended.appender()
    assert append is not None
    for i, ns in enumerate(samples, start=1):
        recorded.record(ns)
        append(ns)
        if i % 3 == 0:  # settled now and then, as the evaluator does on its sampled ticks
            appended.settle()
    assert appended.count == recorded.count == len(samples)
    assert appended.total_ns == recorded.total_ns
    assert appended.max_ns == recorded.max_ns
    assert appended.recent() == recorded.recent() == sorted(samples[-4:])
    assert appended.histogram(low_bits=0, high_bits=24) == recorded.histogram(low_bits=0, high_bits=24)


def test_a_recorder_that_keeps_nothing_hands_out_no_appender() -> None:
    assert NoLatency().appender() is None
