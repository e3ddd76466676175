"""Process leases: which process trades on this database, and product holds that survive restarts.

A lease is taken with single statements, atomic on SQLite and PostgreSQL alike: insert the row if
there is none; otherwise take it over only where it is ours or was last renewed before the stale
cut-off (one conditional ``UPDATE``). Whoever is refused reads back who holds it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update

from streambot.domain import LeaseHolder, ProductHold, ProductId
from streambot.store.models import ProcessLeaseRow, ProductHoldRow
from streambot.store.sql import SqlRepository, columns


def _holder(row: ProcessLeaseRow) -> LeaseHolder:
    return LeaseHolder(row.holder_id, row.host, row.pid, row.started_at, row.renewed_at)


class LeaseRepository(SqlRepository):
    async def take_lease(
        self, name: str, me: LeaseHolder, *, stale_before: datetime, dead_holder: str = ""
    ) -> LeaseHolder:
        """Take the lease ``name`` for ``me`` (or keep it); the holder afterwards: ``me`` when taken.

        Taken when there is none, when it is ours, when its holder last renewed before
        ``stale_before``, or when its holder is ``dead_holder`` (a process known to be gone).
        """
        values = columns(me)
        insert = (
            self._dialect_insert(ProcessLeaseRow)
            .values(name=name, **values)
            .on_conflict_do_nothing(index_elements=[ProcessLeaseRow.name])
            .returning(ProcessLeaseRow.name)
        )
        takeover = (
            update(ProcessLeaseRow)
            .where(
                ProcessLeaseRow.name == name,
                or_(
                    ProcessLeaseRow.holder_id == me.holder_id,
                    ProcessLeaseRow.holder_id == dead_holder,
                    ProcessLeaseRow.renewed_at < stale_before,
                ),
            )
            .values(**values)
            .returning(ProcessLeaseRow.name)
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            if (await session.scalars(insert)).one_or_none() is not None:
                return me
        async with self._transaction() as session:
            if (await session.scalars(takeover)).one_or_none() is not None:
                return me
        async with self._transaction() as session:
            row = await session.get(ProcessLeaseRow, name)
            return me if row is None else _holder(row)

    async def renew_lease(self, name: str, holder_id: str, at: datetime) -> bool:
        """Mark the lease renewed; False when it is no longer ours (another process took it)."""
        statement = (
            update(ProcessLeaseRow)
            .where(ProcessLeaseRow.name == name, ProcessLeaseRow.holder_id == holder_id)
            .values(renewed_at=at)
            .returning(ProcessLeaseRow.name)
            .execution_options(synchronize_session=False)
        )
        async with self._transaction() as session:
            return (await session.scalars(statement)).one_or_none() is not None

    async def release_lease(self, name: str, holder_id: str) -> None:
        statement = delete(ProcessLeaseRow).where(
            ProcessLeaseRow.name == name, ProcessLeaseRow.holder_id == holder_id
        )
        async with self._transaction() as session:
            await session.execute(statement)

    async def lease_holder(self, name: str) -> LeaseHolder | None:
        async with self._transaction() as session:
            row = await session.get(ProcessLeaseRow, name)
            return None if row is None else _holder(row)

    # --- product holds ---------------------------------------------------------------------------

    async def product_holds(self) -> list[ProductHold]:
        async with self._transaction() as session:
            rows = await session.scalars(select(ProductHoldRow).order_by(ProductHoldRow.product_id))
            return [ProductHold(ProductId(r.product_id), r.code, r.reason, r.held_at) for r in rows]

    async def save_product_hold(self, hold: ProductHold) -> None:
        values = columns(hold)
        statement = (
            self._dialect_insert(ProductHoldRow)
            .values(**values)
            .on_conflict_do_update(index_elements=[ProductHoldRow.product_id], set_=values)
        )
        async with self._transaction() as session:
            await session.execute(statement)

    async def delete_product_hold(self, product_id: str) -> bool:
        statement = (
            delete(ProductHoldRow)
            .where(ProductHoldRow.product_id == product_id)
            .returning(ProductHoldRow.product_id)
        )
        async with self._transaction() as session:
            return (await session.scalars(statement)).one_or_none() is not None
