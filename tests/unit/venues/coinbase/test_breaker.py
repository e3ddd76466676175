"""The circuit breaker's state machine, on a controlled clock."""

from __future__ import annotations

import pytest

from streambot.clock import ManualClock
from streambot.exchange import ExchangeError
from streambot.venues.coinbase.breaker import BreakerState, CircuitBreaker, CircuitOpen


def test_opens_after_consecutive_failures_only() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown=5, clock=ManualClock())
    breaker.record_failure("a")
    breaker.record_failure("b")
    breaker.record_success()  # resets the run
    breaker.record_failure("c")
    breaker.record_failure("d")
    assert breaker.state == "closed"
    breaker.record_failure("e")
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen) as refused:
        breaker.before_call("POST /orders")
    assert isinstance(refused.value, ExchangeError)
    assert "last: e" in str(refused.value)
    assert breaker.rejected == 1


def test_one_probe_at_a_time_then_close_or_reopen() -> None:
    clock = ManualClock()
    seen: list[BreakerState] = []
    breaker = CircuitBreaker(threshold=1, cooldown=5, clock=clock, on_change=lambda s, _: seen.append(s))
    breaker.record_failure("down")
    clock.advance_by(5)
    assert breaker.state == "half_open"
    breaker.before_call("probe")  # allowed
    with pytest.raises(CircuitOpen):
        breaker.before_call("second caller while probing")
    breaker.record_failure("still down")
    assert breaker.state == "open"
    clock.advance_by(5)
    breaker.before_call("probe 2")
    breaker.abandon()  # cancelled: no verdict, the next call probes
    breaker.before_call("probe 3")
    breaker.record_success()
    assert breaker.state == "closed"
    assert seen == ["open", "half_open", "open", "half_open", "half_open", "closed"]
    assert breaker.opened == 2


def test_states_keep_their_metric_labels() -> None:
    assert [str(state) for state in BreakerState] == ["closed", "open", "half_open"]
