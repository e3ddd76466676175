"""The client-side rate limiter: never more than the limit in any window, nobody dropped."""

from __future__ import annotations

import asyncio
import time

import pytest

from streambot.venues.coinbase.rate_limit import RateLimiter, reset_seconds


async def test_no_window_ever_sees_more_than_the_limit() -> None:
    limiter = RateLimiter("test", 5, window=0.1, margin=0.01)
    stamps: list[float] = []

    async def caller() -> None:
        await limiter.acquire()
        stamps.append(time.monotonic())

    await asyncio.gather(*(caller() for _ in range(23)))
    assert len(stamps) == 23  # every caller served
    stamps.sort()
    for i in range(len(stamps) - 5):
        # the 6th request after any request is at least one window later
        assert stamps[i + 5] - stamps[i] >= 0.1
    assert limiter.acquired == 23
    assert limiter.waits >= 18


async def test_a_pause_holds_every_caller() -> None:
    limiter = RateLimiter("test", 100)
    limiter.pause(0.1, "429")
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire() for _ in range(3)))
    assert time.monotonic() - started >= 0.09
    assert limiter.pauses == 1


def test_headers_lower_the_limit_and_an_exhausted_budget_pauses() -> None:
    limiter = RateLimiter("test", 30)
    limiter.observe({"x-ratelimit-limit": "20", "x-ratelimit-remaining": "5"})
    assert limiter.limit == 20
    limiter.observe({"x-ratelimit-limit": "50"})  # never raised above our own
    assert limiter.limit == 20
    limiter.observe({"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"})
    assert limiter.pauses == 1
    limiter.observe({"x-ratelimit-limit": "nonsense", "x-ratelimit-remaining": "nan"})
    assert limiter.limit == 20


def test_reset_header_forms() -> None:
    assert reset_seconds({}) is None
    assert reset_seconds({"x-ratelimit-reset": "0.5"}) == 0.5
    absolute = reset_seconds({"x-ratelimit-reset": str(time.time() + 2)})
    assert absolute is not None
    assert 1.0 < absolute <= 2.0
    assert reset_seconds({"x-ratelimit-reset": "99999"}) == 10.0  # capped


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        RateLimiter("x", 0)
