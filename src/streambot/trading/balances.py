"""Account balances from a short-lived cache, so bots asking for balances never flood the REST API.

One refresh is in flight at a time however many callers ask; fills invalidate the cache; a
missing or nonsensical timestamp counts as expired (the old system's corrupted timestamp caused
an API flood). ``AccountBalances`` is what the rest of the platform reads; ``BalanceCache`` keeps
the balances in this process, and a cluster's composition root hands out one whose balances are
shared by every process of the account (``cluster/shared_balances.py``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from decimal import Decimal
from typing import Any

from streambot.clock import Clock
from streambot.domain import Balance

log = logging.getLogger(__name__)

Fetch = Callable[[], Awaitable[list[Balance]]]


class AccountBalances(ABC):
    """The account's balances as every part reads them, and how often a lookup cost a request."""

    def __init__(self, *, ttl: float) -> None:
        self.ttl = ttl
        self.hits = 0  # answered from the cache at once
        self.joined = 0  # waited for a refresh another caller had started: no request of their own
        self.misses = 0  # started a refresh
        self.refreshes = 0
        self.refresh_errors = 0
        self._balances: dict[str, Balance] = {}
        self._fetched_at: float | None = None  # on the ``_now`` clock

    @abstractmethod
    def _now(self) -> float:
        """The clock ``_fetched_at`` is read on: this process's monotonic one, or wall time when
        other processes stamp the value too."""

    @property
    def age(self) -> float | None:
        """Seconds since the last refresh; None when there is no valid one."""
        fetched = self._fetched_at
        if fetched is None or not math.isfinite(fetched):
            return None
        age = self._now() - fetched
        return age if age >= 0 else None

    @property
    def latest(self) -> Mapping[str, Balance]:
        """The last refreshed balances, without asking for a refresh: what strategies read."""
        return self._balances

    @abstractmethod
    def invalidate(self) -> None:
        """The balances changed (a fill): the next lookup reads them from the exchange again."""

    @abstractmethod
    async def balances(self) -> dict[str, Balance]: ...

    def refresh(self) -> asyncio.Future[dict[str, Balance]]:
        """A lookup started now without waiting for it (what a fill asks for, so the next decision
        finds the balances read); a cache with its own in-flight refresh joins that instead."""
        return asyncio.ensure_future(self.balances())

    async def available(self, currency: str) -> Decimal:
        balance = (await self.balances()).get(currency)
        return balance.available if balance is not None else Decimal(0)

    @property
    def hit_rate(self) -> float:
        """Share of lookups answered from the cache at once (a caller that waited on a refresh
        under way is not a hit: it waited as long as the request took)."""
        total = self.hits + self.joined + self.misses
        return self.hits / total if total else 1.0

    @property
    def request_free_rate(self) -> float:
        """Share of lookups that cost no REST request of their own (hits and joined): what keeps
        many bots from flooding the API."""
        total = self.hits + self.joined + self.misses
        return 1.0 - self.misses / total if total else 1.0


class BalanceCache(AccountBalances):
    """The balances kept in this process."""

    def __init__(
        self,
        fetch: Fetch,
        *,
        clock: Clock,
        ttl: float = 60.0,
        spawn: Callable[[Coroutine[Any, Any, dict[str, Balance]]], asyncio.Future[dict[str, Balance]]]
        | None = None,
    ) -> None:
        super().__init__(ttl=ttl)
        self._fetch = fetch
        self._clock = clock
        # How a refresh is started: a task of the loop unless the caller steps coroutines itself
        # (a replay's ManualClock.spawn).
        self._spawn = spawn if spawn is not None else asyncio.ensure_future
        self._inflight: asyncio.Future[dict[str, Balance]] | None = None

    def _now(self) -> float:
        return self._clock.monotonic()

    def invalidate(self) -> None:
        self._fetched_at = None

    async def balances(self) -> dict[str, Balance]:
        age = self.age
        if age is not None and age < self.ttl:
            self.hits += 1
            log.debug("💾 Using cached account data (cache age: %.1fs)", age)
            return self._balances
        # shield: one caller being cancelled must not cancel the refresh the others wait on.
        return await asyncio.shield(self.refresh())

    def refresh(self) -> asyncio.Future[dict[str, Balance]]:
        """A refresh now, or the one already under way: started here without waiting for it (what
        a fill asks for, so the next decision finds the balances read)."""
        inflight = self._inflight
        if inflight is None:
            self.misses += 1
            inflight = self._inflight = self._spawn(self._refresh())
        else:
            self.joined += 1
        return inflight

    async def _refresh(self) -> dict[str, Balance]:
        try:
            try:
                fresh = await self._fetch()
            except Exception:
                self.refresh_errors += 1
                raise
            self._balances = {b.currency: b for b in fresh}
            self._fetched_at = self._clock.monotonic()
            self.refreshes += 1
            log.debug("💾 Account data refreshed: %d currencies", len(self._balances))
            return self._balances
        finally:
            self._inflight = None
