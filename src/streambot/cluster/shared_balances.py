"""One balance cache per account for every process of a cluster, in Redis, refreshed single-flight.

The balances live under one key with the time they were fetched (UNIX seconds, the fetching
process's clock) and expire after ``ttl``. A process that finds them missing or too old takes the
refresh lock (``SET NX PX`` with a token of its own), reads the value once more (another may have
stored it meanwhile), asks the exchange, stores, and releases the lock only if it still holds it
(a compare-and-delete in Lua). The others wait for the value instead of asking the exchange; a
refresher that dies leaves a lock that expires after ``lock_s``, and the next one takes over.

A fill invalidates the shared value: an invalidation bumps the account's generation and deletes
the value in one step, and a refresh stores what it read only if the generation is still the one
it saw before asking the exchange (balances read before a fill never outlive it). In one process
callers queue behind one lookup, as in ``BalanceCache``.

Redis unreachable: the process's own ``BalanceCache`` answers for the moment (a worker cut off
from Redis places no orders anyway).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
from typing import Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

from streambot.clock import Clock
from streambot.domain import Balance
from streambot.exchange import ExchangeError
from streambot.trading.balances import AccountBalances, BalanceCache, Fetch

log = logging.getLogger(__name__)

_POLL_S = 0.02  # how often a process waiting on another's refresh looks for its result
_ERROR_PX = 2_000  # a refresh that failed is reported to the processes waiting on it this long

# KEYS: the lock. ARGV: the token. Deletes the lock only while it is still the caller's.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# KEYS: the value, the generation. ARGV: the generation seen before the fetch, the value, its PX.
# Stores only when no invalidation came since (a fill after the read makes the read stale).
_STORE = """
local current = redis.call('GET', KEYS[2]) or '0'
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1
"""
# KEYS: the value, the generation, the error. A new generation; the value and any error gone.
_INVALIDATE = """
redis.call('DEL', KEYS[1], KEYS[3])
return redis.call('INCR', KEYS[2])
"""


class SharedBalances(msgspec.Struct, frozen=True):
    """What is stored: the balances (Decimal as strings: exact) and when they were fetched."""

    fetched_at: float
    balances: list[Balance]


class RefreshFailed(msgspec.Struct, frozen=True):
    """Why the refresh under the lock ``token`` failed, for the processes that waited on it."""

    token: str
    message: str
    status: int = 0
    code: str = ""


class SharedBalanceCache(AccountBalances):
    """An ``AccountBalances`` shared through Redis under ``key`` (one per account)."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        redis: Redis,
        key: str,
        clock: Clock,
        ttl: float = 60.0,
        lock_s: float = 15.0,
    ) -> None:
        super().__init__(ttl=ttl)
        if lock_s <= 0 or ttl <= 0:
            raise ValueError("a shared balance cache needs a positive ttl and lock_s")
        self._fetch = fetch
        self._redis = redis
        self._clock = clock
        self._value_key = key
        self._lock_key = f"{key}:lock"
        self._generation_key = f"{key}:generation"
        self._error_key = f"{key}:error"
        self._lock_ms = int(lock_s * 1000)
        self._ttl_ms = max(1, int(ttl * 1000))
        self._release = redis.register_script(_RELEASE)
        self._store = redis.register_script(_STORE)
        self._invalidate = redis.register_script(_INVALIDATE)
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(SharedBalances)
        self._error_decoder = msgspec.json.Decoder(RefreshFailed)
        # Redis away: this process's own cache answers.
        self.local = BalanceCache(fetch, clock=clock, ttl=ttl)
        self._inflight: asyncio.Future[dict[str, Balance]] | None = None
        self._invalidating: asyncio.Future[None] | None = None
        self.fallbacks = 0  # lookups the local cache answered because Redis did not
        self.waiting = 0  # lookups waiting now on another process's refresh

    def _now(self) -> float:
        # UNIX seconds: every process of the account stamps the shared value.
        return self._clock.time()

    def invalidate(self) -> None:
        self._fetched_at = None
        self.local.invalidate()
        previous = self._invalidating
        # Sent now, so the other processes stop using the value at once; this process's next
        # lookup waits for it (it must not read the value the invalidation deletes).
        self._invalidating = asyncio.ensure_future(self._send_invalidation(previous))

    async def _send_invalidation(self, previous: asyncio.Future[None] | None) -> None:
        if previous is not None:
            await previous
        try:
            await self._invalidate(keys=[self._value_key, self._generation_key, self._error_key])
        except (RedisError, OSError) as exc:
            log.warning("💾 Shared balances not invalidated (%s): they expire after %.0fs", exc, self.ttl)

    async def balances(self) -> dict[str, Balance]:
        invalidating = self._invalidating
        if invalidating is not None:
            await asyncio.shield(invalidating)
            if self._invalidating is invalidating:
                self._invalidating = None
        try:
            stored = await self._read()
        except (RedisError, OSError) as exc:
            return await self._fall_back(exc)
        if stored is not None:
            self.hits += 1
            return self._use(stored)
        inflight = self._inflight
        if inflight is None:
            inflight = self._inflight = asyncio.ensure_future(self._obtain())
            inflight.add_done_callback(self._obtained)
        else:
            self.joined += 1
        # shield: one caller being cancelled must not cancel the lookup the others wait on.
        return await asyncio.shield(inflight)

    def _obtained(self, done: asyncio.Future[dict[str, Balance]]) -> None:
        if self._inflight is done:
            self._inflight = None

    async def _obtain(self) -> dict[str, Balance]:
        """The balances after a miss: refreshed here under the lock, or waited for while another
        process refreshes them (counted as a miss or as joined accordingly)."""
        try:
            waited = False
            while True:
                token = secrets.token_hex(8)
                if await self._redis.set(self._lock_key, token, nx=True, px=self._lock_ms):
                    try:
                        return await self._refresh_locked(token, waited)
                    finally:
                        await self._release(keys=[self._lock_key], args=[token])
                waited = True
                stored = await self._wait_for(await self._redis.get(self._lock_key))
                if stored is not None:
                    self.joined += 1
                    return self._use(stored)
        except (RedisError, OSError) as exc:
            return await self._fall_back(exc)

    async def _wait_for(self, holder: bytes | None) -> SharedBalances | None:
        """Another process refreshes under the lock ``holder``: its value, its error (raised), or
        None once its lock is gone without a value (it died, or let go)."""
        self.waiting += 1
        try:
            while holder is not None:
                await self._clock.sleep(_POLL_S)
                stored = await self._read()
                if stored is not None:
                    return stored
                failed = await self._redis.get(self._error_key)
                problem = self._error_decoder.decode(failed) if failed is not None else None
                if problem is not None and problem.token == holder.decode():
                    self.joined += 1
                    raise ExchangeError(problem.message, status=problem.status, code=problem.code)
                if await self._redis.get(self._lock_key) != holder:
                    return None
            return None
        finally:
            self.waiting -= 1

    async def _refresh_locked(self, token: str, waited: bool) -> dict[str, Balance]:
        stored = await self._read()  # stored by the lock's previous holder since we looked
        if stored is not None:
            if waited:
                self.joined += 1
            else:
                self.hits += 1
            return self._use(stored)
        generation = await self._redis.get(self._generation_key)
        self.misses += 1
        try:
            fresh = await self._fetch()
        except Exception as exc:
            self.refresh_errors += 1
            problem = RefreshFailed(
                token,
                str(exc) or type(exc).__name__,
                status=exc.status if isinstance(exc, ExchangeError) else 0,
                code=exc.code if isinstance(exc, ExchangeError) else "",
            )
            with contextlib.suppress(RedisError, OSError):  # the exchange's error is the one to raise
                await self._redis.set(self._error_key, self._encoder.encode(problem), px=_ERROR_PX)
            raise
        self.refreshes += 1
        value = SharedBalances(self._clock.time(), fresh)
        await self._store(
            keys=[self._value_key, self._generation_key],
            args=[generation or b"0", self._encoder.encode(value), self._ttl_ms],
        )
        log.debug("💾 Account data refreshed for the cluster: %d currencies", len(fresh))
        return self._use(value)

    async def _read(self) -> SharedBalances | None:
        """The stored balances while fresh (stored less than ``ttl`` ago by the clock too)."""
        data: Any = await self._redis.get(self._value_key)
        if data is None:
            return None
        try:
            stored = self._decoder.decode(data)
        except msgspec.DecodeError as exc:
            log.warning("💾 Unreadable shared balances ignored: %s", exc)
            return None
        age = self._clock.time() - stored.fetched_at
        if not math.isfinite(age) or age < 0 or age >= self.ttl:
            return None  # a corrupted or future timestamp counts as expired
        return stored

    def _use(self, stored: SharedBalances) -> dict[str, Balance]:
        self._balances = {b.currency: b for b in stored.balances}
        self._fetched_at = stored.fetched_at
        return self._balances

    async def _fall_back(self, exc: BaseException) -> dict[str, Balance]:
        self.fallbacks += 1
        log.debug("Shared balances unavailable (%s): this process's cache answers", exc)
        before = self.local.misses
        balances = await self.local.balances()
        if self.local.misses > before:
            self.misses += 1
        else:
            self.hits += 1
        self._balances = dict(balances)
        self._fetched_at = None
        return self._balances
