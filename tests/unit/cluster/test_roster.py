"""The API process's roster: a worker is alive while its heartbeat is recent, and a running bot
whose lease no live worker holds (released, or held by a dead worker) has no owner."""

from __future__ import annotations

from datetime import timedelta

from streambot.clock import ManualClock
from streambot.cluster.roster import ClusterRoster
from streambot.domain import BotId, BotLease, ClusterWorker


class Store:
    def __init__(self) -> None:
        self.workers: list[ClusterWorker] = []
        self.leases: list[BotLease] = []

    async def cluster_workers(self) -> list[ClusterWorker]:
        return self.workers

    async def bot_leases(self) -> list[BotLease]:
        return self.leases


async def test_alive_workers_and_bots_without_a_live_owner() -> None:
    clock = ManualClock()
    now = clock.now()
    store = Store()

    def worker(worker_id: str, seen_ago: float, bots: list[int]) -> ClusterWorker:
        seen = now - timedelta(seconds=seen_ago)
        return ClusterWorker(worker_id, "host", 1, seen, seen, [BotId(b) for b in bots], 12.5, 340.0)

    store.workers = [worker("w-live", 1, [1, 2]), worker("w-dead", 30, [3])]
    store.leases = [
        BotLease(BotId(1), "w-live", 4, now, True),
        BotLease(BotId(2), "w-live", 5, now, False),  # leased, not running yet: owned all the same
        BotLease(BotId(3), "w-dead", 6, now, True),
        BotLease(BotId(4), "", 7, now, False),  # released
    ]
    running = [BotId(1), BotId(2), BotId(3), BotId(4), BotId(5)]  # 5: never leased

    async def running_bots() -> list[BotId]:
        return running

    roster = ClusterRoster(store, running_bots, clock, stale_after=5.0)
    assert not roster.read
    await roster.refresh()
    assert roster.read
    assert roster.alive == 1
    assert [(s.worker.worker_id, s.alive) for s in roster.workers] == [("w-live", True), ("w-dead", False)]
    assert roster.without_owner == [BotId(3), BotId(4), BotId(5)]
