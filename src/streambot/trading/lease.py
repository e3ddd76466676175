"""One process per database: a lease row that the trading process takes at start-up and renews.

A second ``streambot run`` on the same database finds the first one's lease fresh and refuses to
start, naming the other process (host, pid, started at). A lease not renewed for ``stale_after``
seconds (a process that hung or died elsewhere) is taken over; one whose process is gone from this
very host (killed, crashed) at once. A process that cannot renew for that long, or finds its
lease taken, stops placing orders: another process may be trading by then.

Not a PID file: the lease lives in the database both processes share, SQLite or PostgreSQL, so it
also covers two hosts on one PostgreSQL. Times come from each process's clock; hosts' clocks must
agree to well within ``stale_after``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from streambot.clock import Clock
from streambot.domain import LeaseHolder

log = logging.getLogger(__name__)

TRADING_LEASE = "trading"


class LeaseStore(Protocol):
    async def take_lease(
        self, name: str, me: LeaseHolder, *, stale_before: datetime, dead_holder: str = ""
    ) -> LeaseHolder: ...
    async def renew_lease(self, name: str, holder_id: str, at: datetime) -> bool: ...
    async def release_lease(self, name: str, holder_id: str) -> None: ...


class LeaseRefused(Exception):
    """Another process holds the lease; the message names it."""

    def __init__(self, holder: LeaseHolder, stale_after: float) -> None:
        super().__init__(
            f"another streambot process is trading on this database ({holder.describe()}); "
            f"stop it first, or wait: its lease is taken over {stale_after:.0f}s after it stops renewing"
        )
        self.holder = holder


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (signal 0 checks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


class DatabaseLease:
    def __init__(
        self,
        *,
        store: LeaseStore,
        clock: Clock,
        holder_id: str,
        host: str,
        pid: int,
        renew_every: float,
        stale_after: float,
        alive: Callable[[int], bool],
        name: str = TRADING_LEASE,
    ) -> None:
        self._store = store
        self._clock = clock
        self._renew_every = renew_every
        self._stale_after = stale_after
        self._alive = alive
        self.name = name
        self.me = LeaseHolder(holder_id, host, pid, clock.now(), clock.now())
        self._renewed_at = clock.monotonic()
        self.held = False

    @property
    def renew_every(self) -> float:
        """How often the lease is renewed, and so how often one held elsewhere is asked for."""
        return self._renew_every

    async def take(self) -> None:
        """Take the lease, or raise ``LeaseRefused`` naming the process that holds it."""
        now = self._clock.now()
        me = LeaseHolder(self.me.holder_id, self.me.host, self.me.pid, self.me.started_at, now)
        stale_before = now - timedelta(seconds=self._stale_after)
        holder = await self._store.take_lease(self.name, me, stale_before=stale_before)
        if holder.holder_id != me.holder_id and holder.host == me.host and not self._alive(holder.pid):
            log.warning(
                "🔓 Taking over the lease of pid %d on %s: that process is gone", holder.pid, holder.host
            )
            holder = await self._store.take_lease(
                self.name, me, stale_before=stale_before, dead_holder=holder.holder_id
            )
        if holder.holder_id != me.holder_id:
            raise LeaseRefused(holder, self._stale_after)
        self.me, self.held = me, True
        self._renewed_at = self._clock.monotonic()
        log.info("🔒 This process (pid %d on %s) trades on this database", me.pid, me.host)

    async def run(self, on_lost: Callable[[str], None]) -> None:
        """Renew the lease every ``renew_every`` seconds until cancelled; ``on_lost(reason)`` when
        it is lost (the order path stops placing orders)."""
        while self.held:
            await self._clock.sleep(self._renew_every)
            await self.renew(on_lost)

    async def renew(self, on_lost: Callable[[str], None]) -> None:
        try:
            ours = await self._store.renew_lease(self.name, self.me.holder_id, self._clock.now())
        except Exception as exc:
            unrenewed = self._clock.monotonic() - self._renewed_at
            log.warning("Lease not renewed (%s); %.0fs since the last renewal", exc, unrenewed)
            if unrenewed >= self._stale_after:
                self._lose(f"the lease on the database was not renewed for {unrenewed:.0f}s", on_lost)
            return
        if not ours:
            self._lose("another process took over the lease on the database", on_lost)
            return
        self._renewed_at = self._clock.monotonic()

    async def release(self) -> None:
        if self.held:
            self.held = False
            await self._store.release_lease(self.name, self.me.holder_id)

    def _lose(self, reason: str, on_lost: Callable[[str], None]) -> None:
        self.held = False
        log.error("⛔ %s: this process places no more orders", reason)
        on_lost(reason)
