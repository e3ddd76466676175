"""The shared Coinbase budget on the real Redis: two processes' limiters together never let more
than ``limit`` requests into any window, and a pause one of them hears holds the other too."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from streambot.clock import SystemClock
from streambot.cluster.rate_bucket import RedisRateLimiter

pytestmark = pytest.mark.integration

LIMIT = 5
WINDOW_S = 0.2


async def test_two_limiters_share_one_budget_and_its_pauses(redis_url: str, cluster_name: str) -> None:
    clocks = SystemClock()
    clients = [Redis.from_url(redis_url), Redis.from_url(redis_url)]
    limiters = [
        RedisRateLimiter(
            "private",
            LIMIT,
            redis=c,
            key=f"{cluster_name}:rate:x:private",
            clock=clocks,
            window=WINDOW_S,
            margin=0,
        )
        for c in clients
    ]
    loop = asyncio.get_running_loop()
    taken: list[float] = []

    async def take(limiter: RedisRateLimiter) -> None:
        await limiter.acquire()
        taken.append(loop.time())

    try:
        started = loop.time()
        await asyncio.gather(*(take(limiters[n % 2]) for n in range(4 * LIMIT)))
        taken.sort()
        # Any LIMIT + 1 consecutive acquisitions span at least a window.
        spans = [taken[i + LIMIT] - taken[i] for i in range(len(taken) - LIMIT)]
        assert min(spans) >= WINDOW_S * 0.9, spans
        assert loop.time() - started >= 3 * WINDOW_S * 0.9

        limiters[0].pause(0.5, "HTTP 429 on a test")
        await asyncio.sleep(0.05)  # the pause reaches Redis
        paused_at = loop.time()
        await limiters[1].acquire()
        assert loop.time() - paused_at >= 0.35
        assert limiters[0].fallbacks == limiters[1].fallbacks == 0
    finally:
        for client in clients:
            await client.aclose()
