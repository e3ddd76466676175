"""GET /api/v1/cluster: the cluster's workers as their heartbeats in PostgreSQL describe them."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter
from pydantic import BaseModel, Field

from streambot.api.deps import Platform

router = APIRouter()


class ClusterWorkerOut(BaseModel):
    id: str
    host: str
    pid: int
    alive: bool = Field(description="Heartbeat newer than STREAMBOT_BOT_LEASE_STALE_S")
    last_seen: datetime
    bots: list[int] = Field(description="Ids of the bots it owns")
    ticks_per_s: float
    p99_us: float = Field(description="Tick→decision p99, microseconds")


class ClusterOut(BaseModel):
    role: str = Field(description="This process's role: all (streambot run), api, worker or feed")
    workers: list[ClusterWorkerOut]


@router.get("/cluster")
async def cluster(p: Platform) -> ClusterOut:
    """Every worker seen lately: id, host, pid, alive, last_seen, bots, ticks/s and p99."""
    settings = p.settings
    stale_before = p.clock.now() - timedelta(seconds=settings.bot_lease_stale_s)
    workers = await p.store.cluster_workers()
    return ClusterOut(
        role=p.role.value,
        workers=[
            ClusterWorkerOut(
                id=w.worker_id,
                host=w.host,
                pid=w.pid,
                alive=w.last_seen >= stale_before,
                last_seen=w.last_seen,
                bots=[int(b) for b in w.bots],
                ticks_per_s=round(w.ticks_per_s, 1),
                p99_us=round(w.p99_us, 1),
            )
            for w in workers
        ],
    )
