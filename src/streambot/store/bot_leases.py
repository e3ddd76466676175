"""Cluster ownership: per-bot leases with a fencing token, and the workers' heartbeats.

A claim is one conditional upsert: the row is inserted (token 1) when the bot never had an owner,
or taken over (token + 1) when it is released or was not renewed since ``stale_before``. Renewal
is one ``UPDATE … RETURNING`` of every lease of a worker; what it does not return is lost.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update

from streambot.domain import BotId, BotLease, ClusterWorker
from streambot.store.models import BotLeaseRow, ClusterWorkerRow
from streambot.store.sql import SqlRepository, StoreError


class FencedOut(StoreError):
    """An order intent of a bot whose lease this worker no longer holds (or holds no more under
    the token it has): nothing was stored."""

    def __init__(self, bot_id: int, worker_id: str, token: int | None) -> None:
        held = f"fencing token {token}" if token is not None else "no lease"
        super().__init__(
            f"bot {bot_id} is not owned by worker {worker_id} ({held} is not the current one): "
            "order intent not stored"
        )
        self.bot_id = bot_id


def _worker(row: ClusterWorkerRow) -> ClusterWorker:
    return ClusterWorker(
        row.worker_id,
        row.host,
        row.pid,
        row.started_at,
        row.last_seen,
        [BotId(b) for b in row.bots],
        row.ticks_per_s,
        row.p99_us,
    )


class BotLeaseRepository(SqlRepository):
    async def claim_bot_lease(
        self, bot_id: BotId, worker_id: str, *, at: datetime, stale_before: datetime
    ) -> int | None:
        """Take the bot's lease for ``worker_id``: its new fencing token, or None when a live
        worker holds it."""
        table = BotLeaseRow.__table__.c
        statement = (
            self._dialect_insert(BotLeaseRow)
            .values(bot_id=bot_id, worker_id=worker_id, token=1, renewed_at=at, running=False)
            .on_conflict_do_update(
                index_elements=[BotLeaseRow.bot_id],
                set_={"worker_id": worker_id, "token": table.token + 1, "renewed_at": at, "running": False},
                where=or_(table.worker_id == "", table.renewed_at < stale_before),
            )
            .returning(BotLeaseRow.token)
        )
        async with self._transaction() as session:
            return (await session.scalars(statement)).one_or_none()

    async def renew_bot_leases(self, worker_id: str, at: datetime) -> dict[BotId, int]:
        """Renew every lease of ``worker_id``; the bots it still owns and their tokens."""
        statement = (
            update(BotLeaseRow)
            .where(BotLeaseRow.worker_id == worker_id)
            .values(renewed_at=at)
            .returning(BotLeaseRow.bot_id, BotLeaseRow.token)
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            return {BotId(bot_id): token for bot_id, token in (await session.execute(statement)).all()}

    async def release_bot_lease(self, bot_id: BotId, worker_id: str) -> None:
        """Give the bot up (the row and its token stay, so the next owner's token is higher)."""
        statement = (
            update(BotLeaseRow)
            .where(BotLeaseRow.bot_id == bot_id, BotLeaseRow.worker_id == worker_id)
            .values(worker_id="", running=False)
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            await session.execute(statement)

    async def mark_bot_running(self, bot_id: BotId, worker_id: str, running: bool) -> None:
        """The lease's worker runs the bot now (or waits to): see ``BotLeaseRow.running``."""
        statement = (
            update(BotLeaseRow)
            .where(BotLeaseRow.bot_id == bot_id, BotLeaseRow.worker_id == worker_id)
            .values(running=running)
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            await session.execute(statement)

    async def bot_leases(self) -> list[BotLease]:
        async with self._transaction() as session:
            rows = await session.scalars(select(BotLeaseRow).order_by(BotLeaseRow.bot_id))
            return [BotLease(BotId(r.bot_id), r.worker_id, r.token, r.renewed_at, r.running) for r in rows]

    async def save_cluster_worker(self, worker: ClusterWorker) -> None:
        values = {
            "worker_id": worker.worker_id,
            "host": worker.host,
            "pid": worker.pid,
            "started_at": worker.started_at,
            "last_seen": worker.last_seen,
            "bots": [int(b) for b in worker.bots],
            "ticks_per_s": worker.ticks_per_s,
            "p99_us": worker.p99_us,
        }
        statement = (
            self._dialect_insert(ClusterWorkerRow)
            .values(**values)
            .on_conflict_do_update(index_elements=[ClusterWorkerRow.worker_id], set_=values)
        )
        async with self._transaction() as session:
            await session.execute(statement)

    async def cluster_workers(self) -> list[ClusterWorker]:
        async with self._transaction() as session:
            rows = await session.scalars(select(ClusterWorkerRow).order_by(ClusterWorkerRow.started_at))
            return [_worker(r) for r in rows]

    async def forget_cluster_workers(self, seen_before: datetime) -> int:
        """Drop the heartbeats of workers gone since long before ``seen_before``."""
        statement = (
            delete(ClusterWorkerRow)
            .where(ClusterWorkerRow.last_seen < seen_before)
            .returning(ClusterWorkerRow.worker_id)
        )
        async with self._transaction() as session:
            return len((await session.scalars(statement)).all())
