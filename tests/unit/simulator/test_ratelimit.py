"""The simulator's token buckets: depth of one second, continuous refill, headers."""

from __future__ import annotations

from datetime import UTC, datetime

from streambot.clock import ManualClock
from streambot.simulator.ratelimit import RateLimitBuckets


def test_a_burst_beyond_the_depth_is_refused_until_tokens_come_back() -> None:
    clock = ManualClock(datetime.fromtimestamp(1_000, UTC))
    limiter = RateLimitBuckets(30, clock=clock)
    decisions = [limiter.take("key") for _ in range(31)]
    assert all(d.allowed for d in decisions[:30])
    assert not decisions[30].allowed
    assert decisions[29].remaining == 0
    assert decisions[30].headers() == {
        "x-ratelimit-limit": "30",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": "1001",
    }
    clock.advance_by(0.1)  # three tokens refilled
    assert [limiter.take("key").allowed for _ in range(4)] == [True, True, True, False]


def test_clients_have_separate_buckets() -> None:
    limiter = RateLimitBuckets(10, clock=ManualClock())
    for _ in range(10):
        assert limiter.take("a").allowed
    assert not limiter.take("a").allowed
    assert limiter.take("b").allowed


def test_a_client_at_exactly_the_rate_is_never_refused() -> None:
    clock = ManualClock()
    limiter = RateLimitBuckets(30, clock=clock)
    for _ in range(300):
        assert limiter.take("steady").allowed
        clock.advance_by(1 / 30)
