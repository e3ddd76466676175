"""One process per database, on SQLite and PostgreSQL: the lease row, its renewal and takeover,
a second platform refused with a message naming the first, and product holds that survive."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from streambot.app import Platform, StartupError
from streambot.clock import ManualClock
from streambot.domain import ProductHold
from streambot.store.database import Store
from streambot.trading.lease import DatabaseLease, LeaseRefused
from tests.integration.platform.conftest import settings_for

pytestmark = pytest.mark.integration

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _lease(store: Store, clock: ManualClock, name: str, pid: int, *, alive: bool = True) -> DatabaseLease:
    return DatabaseLease(
        store=store,
        clock=clock,
        holder_id=name,
        host="host-a",
        pid=pid,
        renew_every=5.0,
        stale_after=30.0,
        alive=lambda _pid: alive,
    )


async def test_a_second_holder_is_refused_until_the_lease_goes_stale(database_url: str) -> None:
    clock = ManualClock(START)
    store = Store(database_url, clock=clock)
    await store.open()
    try:
        first = _lease(store, clock, "first", 101)
        second = _lease(store, clock, "second", 202)
        await first.take()
        with pytest.raises(LeaseRefused) as refused:
            await second.take()
        assert "pid 101 on host-a, started 2026-06-01T12:00:00+00:00" in str(refused.value)

        lost: list[str] = []
        clock.advance_by(20)
        await first.renew(lost.append)  # renewed: still fresh 20 s later
        clock.advance_by(20)
        with pytest.raises(LeaseRefused):
            await second.take()
        clock.advance_by(31)  # the first stopped renewing: its lease is stale
        await second.take()
        holder = await store.lease_holder("trading")
        assert holder is not None
        assert holder.holder_id == "second"
        await first.renew(lost.append)
        assert lost == ["another process took over the lease on the database"]
        assert not first.held

        await second.release()
        assert await store.lease_holder("trading") is None
    finally:
        await store.close()


async def test_a_holder_whose_process_is_gone_from_this_host_is_taken_over_at_once(database_url: str) -> None:
    clock = ManualClock(START)
    store = Store(database_url, clock=clock)
    await store.open()
    try:
        await _lease(store, clock, "killed", 101).take()
        await _lease(store, clock, "restarted", 202, alive=False).take()
        holder = await store.lease_holder("trading")
        assert holder is not None
        assert holder.holder_id == "restarted"
    finally:
        await store.close()


async def test_product_holds_are_stored_replaced_and_deleted(database_url: str) -> None:
    clock = ManualClock(START)
    store = Store(database_url, clock=clock)
    await store.open()
    try:
        await store.save_product_hold(ProductHold("BTC-USD", "POSITION_MISMATCH", "off by 1", START))
        await store.save_product_hold(ProductHold("BTC-USD", "POSITION_MISMATCH", "off by 2", START))
        assert [h.reason for h in await store.product_holds()] == ["off by 2"]
        assert await store.delete_product_hold("BTC-USD")
        assert not await store.delete_product_hold("BTC-USD")
        assert await store.product_holds() == []
    finally:
        await store.close()


async def test_a_second_platform_on_the_same_database_refuses_to_start(
    database_url: str, tmp_path: Path
) -> None:
    first = await Platform.open(settings_for(tmp_path / "one", database_url=database_url))
    try:
        with pytest.raises(
            StartupError, match=r"another streambot process is trading on this database \(pid \d+ on"
        ):
            await Platform.open(settings_for(tmp_path / "two", database_url=database_url))
    finally:
        await first.stop()
    # Stopped, the first released its lease: the next one starts.
    again = await Platform.open(settings_for(tmp_path / "two", database_url=database_url))
    await again.stop()
