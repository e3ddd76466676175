"""The client-side rate limiter: never more than the limit in any window, nobody dropped."""

from __future__ import annotations

import asyncio

import pytest

from streambot.clock import ManualClock
from streambot.venues.coinbase.rate_limit import RateLimiter, reset_seconds


async def test_no_window_ever_sees_more_than_the_limit() -> None:
    clock = ManualClock()
    limiter = RateLimiter("test", 5, clock=clock, window=0.1, margin=0.01)
    stamps: list[float] = []

    async def caller() -> None:
        await limiter.acquire()
        stamps.append(clock.monotonic())

    callers = [asyncio.create_task(caller()) for _ in range(23)]
    await asyncio.sleep(0)  # every caller queues at t=0
    await clock.run_for(1.0)
    assert all(task.done() for task in callers)
    assert len(stamps) == 23  # every caller served
    stamps.sort()
    for i in range(len(stamps) - 5):
        # the 6th request after any request is at least one window later
        assert stamps[i + 5] - stamps[i] >= 0.1
    assert limiter.acquired == 23
    assert limiter.waits >= 18


async def test_a_pause_holds_every_caller() -> None:
    clock = ManualClock()
    limiter = RateLimiter("test", 100, clock=clock)
    limiter.pause(0.1, "429")
    callers = asyncio.gather(*(limiter.acquire() for _ in range(3)))
    await asyncio.sleep(0)
    await clock.run_for(0.05)
    assert not callers.done()
    await clock.run_for(0.05)
    assert callers.done()
    assert all(waited >= 0.09 for waited in await callers)
    assert limiter.pauses == 1


def test_headers_lower_the_limit_and_an_exhausted_budget_pauses() -> None:
    limiter = RateLimiter("test", 30, clock=ManualClock())
    limiter.observe({"x-ratelimit-limit": "20", "x-ratelimit-remaining": "5"})
    assert limiter.limit == 20
    limiter.observe({"x-ratelimit-limit": "50"})  # never raised above our own
    assert limiter.limit == 20
    limiter.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"})
    assert limiter.pauses == 1
    limiter.observe({"x-ratelimit-limit": "nonsense", "x-ratelimit-remaining": "nan"})
    assert limiter.limit == 20


def test_reset_header_forms() -> None:
    now = ManualClock().time()
    assert reset_seconds({}, now) is None
    assert reset_seconds({"x-ratelimit-reset": "0.5"}, now) == 0.5
    assert reset_seconds({"x-ratelimit-reset": str(now + 2)}, now) == 2.0  # an absolute UNIX time
    assert reset_seconds({"x-ratelimit-reset": "99999"}, now) == 10.0  # capped


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        RateLimiter("x", 0, clock=ManualClock())
