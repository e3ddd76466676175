"""One balance cache per account on the real Redis: caches on separate connections (as processes
would hold them) asking at once cost the exchange one call; a refresher that dies is taken over
once its lock expires; a fill's invalidation reaches every cache, and balances read before it are
never stored after it; Decimal values come back exactly."""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal

import pytest
from redis.asyncio import Redis

from streambot.clock import SystemClock
from streambot.cluster.shared_balances import SharedBalanceCache
from streambot.domain import Balance
from streambot.exchange import ExchangeError

pytestmark = pytest.mark.integration

BALANCES = [
    Balance("USD", Decimal("1234.567890123456789012"), Decimal("0.10")),
    Balance("BTC", Decimal("0.000000012345678901234567"), Decimal("0E-8")),
]


class Exchange:
    """The exchange's accounts call, counted; each call waits until the test lets it answer."""

    def __init__(self, answer: list[Balance] | None = None) -> None:
        self.calls = 0
        self.answer = answer if answer is not None else BALANCES
        self.go = asyncio.Event()
        self.go.set()
        self.error: ExchangeError | None = None

    async def accounts(self) -> list[Balance]:
        self.calls += 1
        await self.go.wait()
        if self.error is not None:
            raise self.error
        return list(self.answer)


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[list[Redis]]:
    made = [Redis.from_url(redis_url) for _ in range(6)]
    yield made
    for client in made:
        await client.aclose()


def caches(
    clients: list[Redis], key: str, fetch: Callable[[], Awaitable[list[Balance]]], **kw: float
) -> list[SharedBalanceCache]:
    return [SharedBalanceCache(fetch, redis=c, key=key, clock=SystemClock(), **kw) for c in clients]


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never met")


async def gone(client: Redis, key: str, value: bytes | None = None) -> None:
    """Until the invalidation reached Redis: the value deleted, or the generation it set."""
    for _ in range(500):
        if await client.get(key) == value:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{key} is still {await client.get(key)!r}")


async def test_many_processes_asking_at_once_cost_one_exchange_call(
    clients: list[Redis], cluster_name: str
) -> None:
    exchange = Exchange()
    exchange.go.clear()
    shared = caches(clients, f"{cluster_name}:balances:a", exchange.accounts)
    # Three callers in each "process": in-process callers queue behind one lookup too.
    asking = [asyncio.ensure_future(cache.balances()) for cache in shared for _ in range(3)]
    # One refreshes, the other "processes" wait on it (their other callers on their own lookup).
    await until(lambda: exchange.calls == 1 and sum(c.waiting for c in shared) == len(shared) - 1)
    exchange.go.set()
    answers = await asyncio.gather(*asking)
    assert exchange.calls == 1
    assert sum(c.misses for c in shared) == 1
    assert sum(c.hits + c.joined + c.misses for c in shared) == len(asking)
    for answer in answers:
        assert answer == {b.currency: b for b in BALANCES}
        usd = answer["USD"]
        assert isinstance(usd.available, Decimal)
        assert str(usd.available) == "1234.567890123456789012"
        assert str(usd.hold) == "0.10"
        assert str(answer["BTC"].available) == "1.2345678901234567E-8"
    for cache in shared:
        assert cache.fallbacks == 0
        assert cache.latest["BTC"] == BALANCES[1]
        age = cache.age
        assert age is not None
        assert 0 <= age < cache.ttl
    # Fresh: answered from Redis without another call.
    assert await shared[0].available("USD") == Decimal("1234.567890123456789012")
    assert exchange.calls == 1


async def test_a_refresher_that_dies_is_taken_over_once_its_lock_expires(
    clients: list[Redis], cluster_name: str, redis_url: str
) -> None:
    key = f"{cluster_name}:balances:b"
    # A process that takes the lock and is SIGKILLed while it waits for the exchange.
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        textwrap.dedent(
            f"""
            import asyncio, sys
            from redis.asyncio import Redis
            from streambot.clock import SystemClock
            from streambot.cluster.shared_balances import SharedBalanceCache

            async def hang():
                print("fetching", flush=True)
                await asyncio.Event().wait()
                return []

            async def main():
                redis = Redis.from_url({redis_url!r})
                cache = SharedBalanceCache(hang, redis=redis, key={key!r}, clock=SystemClock(), lock_s=1.0)
                await cache.balances()

            asyncio.run(main())
            """
        ),
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    assert await asyncio.wait_for(child.stdout.readline(), 30) == b"fetching\n"
    assert await clients[0].get(f"{key}:lock") is not None
    child.send_signal(signal.SIGKILL)
    await child.wait()

    exchange = Exchange()
    survivor = caches(clients[:1], key, exchange.accounts, lock_s=1.0)[0]
    assert await survivor.balances() == {b.currency: b for b in BALANCES}
    assert exchange.calls == 1
    assert survivor.misses == 1
    assert survivor.fallbacks == 0
    assert await clients[0].get(f"{key}:lock") is None  # released by its owner


async def test_a_fill_invalidates_the_shared_value_and_a_read_before_it_is_not_kept(
    clients: list[Redis], cluster_name: str
) -> None:
    exchange = Exchange()
    first, second, third = caches(clients[:3], f"{cluster_name}:balances:c", exchange.accounts)
    await first.balances()
    await second.balances()
    assert exchange.calls == 1
    assert second.hits == 1

    first.invalidate()  # a fill in the first process
    assert first.age is None
    await gone(clients[0], f"{cluster_name}:balances:c")  # what another process then reads
    exchange.answer = [Balance("USD", Decimal("1000.01"), Decimal(0))]
    assert (await second.balances())["USD"].available == Decimal("1000.01")
    assert exchange.calls == 2

    # A refresh under way when another fill lands: its answer is the caller's, not stored.
    exchange.go.clear()
    third.invalidate()
    refreshing = asyncio.ensure_future(third.balances())
    await until(lambda: exchange.calls == 3)
    second.invalidate()
    await gone(clients[0], f"{cluster_name}:balances:c:generation", value=b"3")
    exchange.go.set()
    await refreshing
    exchange.answer = [Balance("USD", Decimal("999.5"), Decimal(0))]
    assert (await first.balances())["USD"].available == Decimal("999.5")
    assert exchange.calls == 4


async def test_a_failed_refresh_is_reported_to_the_processes_waiting_on_it(
    clients: list[Redis], cluster_name: str
) -> None:
    exchange = Exchange()
    exchange.go.clear()
    exchange.error = ExchangeError("HTTP 503 from the exchange", status=503, code="UNAVAILABLE")
    shared = caches(clients[:4], f"{cluster_name}:balances:d", exchange.accounts)
    asking = [asyncio.ensure_future(cache.balances()) for cache in shared]
    await until(lambda: exchange.calls == 1 and sum(c.waiting for c in shared) == len(shared) - 1)
    exchange.go.set()
    outcomes = await asyncio.gather(*asking, return_exceptions=True)
    assert exchange.calls == 1
    for outcome in outcomes:
        assert isinstance(outcome, ExchangeError)
        assert outcome.status == 503
        assert "HTTP 503" in str(outcome)
    exchange.error = None
    assert (await shared[0].balances())["USD"] == BALANCES[0]
    assert exchange.calls == 2


async def test_redis_away_the_process_cache_answers(cluster_name: str) -> None:
    exchange = Exchange()
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    try:
        cache = SharedBalanceCache(
            exchange.accounts, redis=unreachable, key=f"{cluster_name}:balances:e", clock=SystemClock()
        )
        assert (await cache.balances())["USD"] == BALANCES[0]
        assert (await cache.balances())["USD"] == BALANCES[0]
        assert exchange.calls == 1
        assert cache.fallbacks == 2
        assert cache.misses == 1
        assert cache.hits == 1
    finally:
        await unreachable.aclose()
