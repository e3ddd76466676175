from __future__ import annotations

from streambot.api.security import AuthGuard, TokenBuckets, bearer_of, origin_allowed
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


def test_a_locked_address_still_admits_the_right_token() -> None:
    clock = ManualClock()
    guard = AuthGuard(max_failures=10, lockout_s=300, clock=clock)
    for _ in range(11):
        guard.verify("127.0.0.1", "guess", "secret")
    assert guard.locked_for("127.0.0.1") > 0
    assert guard.lockout_for("127.0.0.1", "secret", "secret") == 0  # the owner, sharing the address
    assert guard.lockout_for("127.0.0.1", "guess", "secret") > 0
    assert guard.lockout_for("127.0.0.1", None, "secret") > 0
    assert guard.lockout_for("10.0.0.1", None, "secret") == 0  # not locked: on to the token check
    assert guard.failures_total == 11  # admitting counts nothing


def test_bearer_token_from_the_headers() -> None:
    def scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
        return {"headers": list(headers)}

    assert bearer_of(scope((b"authorization", b"Bearer abc"))) == "abc"
    assert bearer_of(scope((b"authorization", b"bearer  abc "))) == "abc"
    assert bearer_of(scope((b"authorization", b"Basic abc"))) is None
    assert bearer_of(scope()) is None
