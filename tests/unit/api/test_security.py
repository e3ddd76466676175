from __future__ import annotations

from streambot.api.security import AuthGuard, TokenBuckets, origin_allowed
from streambot.clock import ManualClock


def test_wrong_tokens_lock_an_address_out_for_a_while() -> None:
    clock = ManualClock()
    guard = AuthGuard(max_failures=3, lockout_s=60, clock=clock)
    assert guard.verify("1.2.3.4", "secret", "secret")
    for _ in range(3):
        assert not guard.verify("1.2.3.4", "guess", "secret")
    assert guard.locked_for("1.2.3.4") == 60
    assert guard.locked_for("5.6.7.8") == 0  # others are not affected
    clock.advance_by(61)
    assert guard.locked_for("1.2.3.4") == 0
    assert guard.lockouts_total == 1


def test_failures_spread_out_over_time_do_not_lock() -> None:
    clock = ManualClock()
    guard = AuthGuard(max_failures=3, lockout_s=60, clock=clock)
    for _ in range(5):
        guard.verify("peer", "guess", "secret")
        clock.advance_by(40)  # the window restarts before the third failure
    assert guard.locked_for("peer") == 0


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    clock = ManualClock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take("p") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = buckets.take("p")
    assert 0 < wait <= 0.5
    clock.advance_by(0.5)
    assert buckets.take("p") == 0.0
    assert buckets.take("other") == 0.0
    assert buckets.limited_total == 1


def test_origin_is_the_api_itself_or_configured() -> None:
    assert origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000", ())
    assert not origin_allowed("http://127.0.0.1:9999", "127.0.0.1:8000", ())
    assert not origin_allowed("https://evil.example", "127.0.0.1:8000", ())
    assert origin_allowed("https://dash.example/", "127.0.0.1:8000", ("https://dash.example",))
    assert not origin_allowed("null", None, ())
