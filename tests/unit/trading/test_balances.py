from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from streambot.clock import ManualClock
from streambot.domain import Balance
from streambot.trading.balances import BalanceCache


class CountingFetch:
    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()

    async def __call__(self) -> list[Balance]:
        self.calls += 1
        await self.release.wait()
        return [Balance("USD", Decimal("10000"), Decimal(0))]


async def test_many_callers_share_one_refresh_then_hit_the_cache() -> None:
    fetch, clock = CountingFetch(), ManualClock()
    cache = BalanceCache(fetch, clock=clock, ttl=60)
    callers = [asyncio.create_task(cache.available("USD")) for _ in range(1000)]
    await asyncio.sleep(0)
    fetch.release.set()
    results = await asyncio.gather(*callers)
    assert set(results) == {Decimal("10000")}
    assert fetch.calls == 1

    clock.advance_by(30)
    assert await cache.available("USD") == Decimal("10000")
    assert cache.age == 30
    assert fetch.calls == 1
    clock.advance_by(31)
    await cache.available("USD")
    assert fetch.calls == 2


async def test_invalidate_and_a_corrupt_timestamp_mean_expired() -> None:
    fetch, clock = CountingFetch(), ManualClock()
    fetch.release.set()
    cache = BalanceCache(fetch, clock=clock, ttl=60)
    await cache.balances()
    cache.invalidate()
    await cache.balances()
    assert fetch.calls == 2
    cache._fetched_at = float("nan")
    assert cache.age is None
    await cache.balances()
    cache._fetched_at = clock.monotonic() + 500  # from the future: not trusted
    assert cache.age is None
    await cache.balances()
    assert fetch.calls == 4


async def test_a_cancelled_caller_does_not_cancel_the_shared_refresh() -> None:
    fetch, clock = CountingFetch(), ManualClock()
    cache = BalanceCache(fetch, clock=clock, ttl=60)
    first = asyncio.create_task(cache.balances())
    second = asyncio.create_task(cache.balances())
    await asyncio.sleep(0)
    first.cancel()
    fetch.release.set()
    assert "USD" in await second
    assert fetch.calls == 1


async def test_lookups_are_counted_and_hits_log_the_old_line_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fetch, clock = CountingFetch(), ManualClock()
    cache = BalanceCache(fetch, clock=clock, ttl=60)
    callers = [asyncio.create_task(cache.balances()) for _ in range(10)]
    await asyncio.sleep(0)
    fetch.release.set()
    await asyncio.gather(*callers)
    assert (cache.misses, cache.joined, cache.hits) == (1, 9, 0)

    caplog.set_level("DEBUG", logger="streambot.trading.balances")
    clock.advance_by(30.3)
    await cache.balances()
    assert cache.hits == 1
    # Joining a refresh under way saves a request but is no cache hit.
    assert cache.hit_rate == 1 / 11
    assert cache.request_free_rate == 1 - 1 / 11
    hit_lines = [r for r in caplog.records if "Using cached account data" in r.getMessage()]
    assert [(r.levelname, r.getMessage()) for r in hit_lines] == [
        ("DEBUG", "💾 Using cached account data (cache age: 30.3s)")
    ]


async def test_a_failed_refresh_is_counted_and_the_next_caller_retries() -> None:
    calls = 0

    async def flaky() -> list[Balance]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("venue down")
        return [Balance("USD", Decimal(1), Decimal(0))]

    cache = BalanceCache(flaky, clock=ManualClock(), ttl=60)
    with pytest.raises(RuntimeError):
        await cache.balances()
    assert cache.refresh_errors == 1
    assert await cache.available("USD") == Decimal(1)
