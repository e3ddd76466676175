"""One Coinbase rate-limit budget per account, shared by every process of a cluster (in Redis).

The same rule as the in-process ``RateLimiter`` (a token is lent for one window: no window ever
sees more than ``limit`` requests), kept as a sorted set of the times tokens were taken, in a Lua
script so taking one is atomic across processes and timed by Redis's clock (all processes agree
on it). A pause (a 429, an exhausted ``x-ratelimit-remaining``) is a key with a time to live that
every process's next acquisition waits out. Within a process callers still queue in order.

Redis unreachable: the process falls back to its own limiter for the moment (a worker cut off
from Redis places no orders anyway; its reads stay within its own budget).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from streambot.clock import Clock
from streambot.venues.coinbase.rate_limit import MARGIN_S, RESET_CAP_S, WINDOW_S, RateLimiter

log = logging.getLogger(__name__)

# KEYS: the bucket, its pause key. ARGV: limit, window in microseconds, a unique member.
# Returns 0 when a token was taken, else the microseconds to wait before trying again.
_TAKE = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return paused * 1000 end
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_us - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now_us, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now_us)
"""


class RedisRateLimiter(RateLimiter):
    """A ``RateLimiter`` whose budget lives in Redis under ``key`` (one per account and kind)."""

    def __init__(
        self,
        name: str,
        limit: int,
        *,
        redis: Redis,
        key: str,
        clock: Clock,
        window: float = WINDOW_S,
        margin: float = MARGIN_S,
    ) -> None:
        super().__init__(name, limit, clock=clock, window=window, margin=margin)
        self._redis = redis
        self._key = key
        self._pause_key = f"{key}:paused"
        self._window_us = int((window + margin) * 1_000_000)
        self._take = redis.register_script(_TAKE)
        self._shared_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.fallbacks = 0  # acquisitions served by the local limiter while Redis was away

    async def acquire(self) -> float:
        started = self._clock.monotonic()
        async with self._shared_lock:
            while True:
                try:
                    wait_us = int(
                        await self._take(
                            keys=[self._key, self._pause_key],
                            args=[self.limit, self._window_us, secrets.token_hex(8)],
                        )
                    )
                except (RedisError, OSError) as exc:
                    self.fallbacks += 1
                    log.debug("Shared rate limit %s unavailable (%s): the local one serves", self.name, exc)
                    return await super().acquire()
                if wait_us <= 0:
                    break
                await self._clock.sleep(min(wait_us / 1_000_000, RESET_CAP_S))
        self.acquired += 1
        waited = self._clock.monotonic() - started
        if waited > 0.001:
            self.waits += 1
            self.wait_seconds += waited
        return waited

    def pause(self, seconds: float, reason: str, *, warn: bool = True) -> None:
        super().pause(seconds, reason, warn=warn)
        milliseconds = int(min(max(seconds, 0.0), RESET_CAP_S) * 1000)
        if milliseconds <= 0:
            return
        # Every process waits it out; the longer of two pauses wins (GT: only ever extended).
        task = asyncio.ensure_future(self._share_pause(milliseconds))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _share_pause(self, milliseconds: int) -> None:
        try:
            created = await self._redis.set(self._pause_key, b"1", px=milliseconds, nx=True)
            if created is None and await self._redis.pttl(self._pause_key) < milliseconds:
                await self._redis.pexpire(self._pause_key, milliseconds)
        except (RedisError, OSError) as exc:
            log.debug("Shared rate limit %s: pause not shared (%s)", self.name, exc)
