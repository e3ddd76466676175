"""The cluster's workers as the API process last read them, for its health report and metrics.

Both are answered without a query of their own (a Prometheus scrape is synchronous, a status frame
goes to every dashboard): ``run()`` reads the heartbeats, the bot leases and the running bots every
``every`` seconds and keeps what it read. A worker is alive while its heartbeat is newer than
``stale_after`` (as in ``GET /api/v1/cluster``); a running bot whose lease no live worker holds has
no owner: nothing trades it until a worker claims it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from streambot.clock import Clock
from streambot.domain import BotId, BotLease, ClusterWorker

log = logging.getLogger(__name__)


class RosterStore(Protocol):
    async def cluster_workers(self) -> list[ClusterWorker]: ...
    async def bot_leases(self) -> list[BotLease]: ...


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    worker: ClusterWorker
    alive: bool


class ClusterRoster:
    def __init__(
        self,
        store: RosterStore,
        running_bots: Callable[[], Awaitable[list[BotId]]],
        clock: Clock,
        *,
        stale_after: float,
        every: float = 1.0,
    ) -> None:
        self._store = store
        self._running_bots = running_bots
        self._clock = clock
        self._stale_after = timedelta(seconds=stale_after)
        self._every = every
        self.workers: list[WorkerSeen] = []
        self.without_owner: list[BotId] = []  # running bots no live worker holds
        self.read = False  # False until the first read: nothing is known yet

    @property
    def alive(self) -> int:
        return sum(seen.alive for seen in self.workers)

    async def refresh(self) -> None:
        workers = await self._store.cluster_workers()
        leases = await self._store.bot_leases()
        running = await self._running_bots()
        stale_before = self._clock.now() - self._stale_after
        seen = [WorkerSeen(w, w.last_seen >= stale_before) for w in workers]
        live = {s.worker.worker_id for s in seen if s.alive}
        owner = {lease.bot_id: lease.worker_id for lease in leases}
        self.workers = seen
        self.without_owner = sorted(b for b in running if owner.get(b, "") not in live)
        self.read = True

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # the store is away: the last reading stays, health says so
                log.debug("Cluster roster not read: %s", exc)
            await self._clock.sleep(self._every)
