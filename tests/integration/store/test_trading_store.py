"""The trading engine's tables on SQLite and PostgreSQL: orders with risk verdicts, risk state,
equity snapshots, and migrations that two processes may start at once."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from streambot.clock import SystemClock
from streambot.domain import BotId, ClientOrderId, OrderStatus
from streambot.risk.state import EquitySnapshot, ScopeState
from streambot.store.database import Store
from streambot.store.orders import DuplicateOrder
from tests.integration.store.test_store import T0, _bot_id, _fill, _order

pytestmark = pytest.mark.integration


async def test_an_intent_takes_the_next_order_number_in_the_same_commit(store: Store) -> None:
    bot = await _bot_id(store)
    stored = await store.insert_order_with_seq(
        bot,
        lambda seq: _order(
            f"sb-x-{bot}-{seq}",
            bot,
            status=OrderStatus.REJECTED,
            error_code="MAX_ORDER_NOTIONAL",
            error="too big",
            risk_checked_at=T0,
        ),
    )
    assert stored.client_order_id == f"sb-x-{bot}-1"
    assert await store.get_order(stored.client_order_id) == stored
    second = await store.insert_order_with_seq(bot, lambda seq: _order(f"sb-x-{bot}-{seq}", bot))
    assert second.client_order_id == f"sb-x-{bot}-2"
    # A clash rolls the number back with the insert: nothing half-written.
    with pytest.raises(DuplicateOrder):
        await store.insert_order_with_seq(bot, lambda seq: _order(f"sb-x-{bot}-1", bot))
    third = await store.insert_order_with_seq(bot, lambda seq: _order(f"sb-x-{bot}-{seq}", bot))
    assert third.client_order_id == f"sb-x-{bot}-3"
    with pytest.raises(LookupError):
        await store.insert_order_with_seq(999, lambda seq: _order("never", 999))


async def test_orders_page_filter_and_unresolved(store: Store) -> None:
    bot = await _bot_id(store)
    for i in range(5):
        await store.insert_order(
            _order(
                f"o-{i}",
                bot,
                created_at=T0 + timedelta(seconds=i),
                status=OrderStatus.FILLED if i % 2 else OrderStatus.ACKNOWLEDGED,
                submitted_at=T0 + timedelta(seconds=i),
            )
        )
    first = await store.page_orders(bot_id=bot, limit=2)
    assert [o.client_order_id for o in first] == ["o-4", "o-3"]
    rest = await store.page_orders(
        bot_id=bot, limit=10, before=(first[-1].created_at, first[-1].client_order_id)
    )
    assert [o.client_order_id for o in rest] == ["o-2", "o-1", "o-0"]
    assert [o.client_order_id for o in await store.page_orders(status="filled")] == ["o-3", "o-1"]
    window = await store.page_orders(since=T0 + timedelta(seconds=1), until=T0 + timedelta(seconds=3))
    assert [o.client_order_id for o in window] == ["o-2", "o-1"]
    assert [o.client_order_id for o in await store.unresolved_orders()] == ["o-0", "o-2", "o-4"]
    by_id = await store.get_orders({"o-1", "o-4", "missing"})
    assert sorted(by_id) == ["o-1", "o-4"]
    assert by_id["o-4"] == await store.get_order("o-4")
    assert await store.get_orders(set()) == {}
    sent = await store.submitted_since(T0 + timedelta(seconds=3))
    assert sorted(at for _, at in sent) == [T0 + timedelta(seconds=3), T0 + timedelta(seconds=4)]
    await store.insert_fill(_fill("t-1", size=Decimal("0.5")), bot_id=bot, client_order_id="o-1")
    assert [f.trade_id for f in await store.fills_for_bot(bot)] == ["t-1"]


async def test_risk_state_round_trips_exactly(store: Store) -> None:
    account = ScopeState(
        halted=True,
        halt_code="DAILY_LOSS_LIMIT",
        halt_reason="lost 10.00% today",
        halted_at=T0,
        day="2025-01-02",
        day_start_equity=Decimal("10000.0000000000000001"),
        equity_peak=Decimal("12345.67"),
    )
    bot = ScopeState(bot_id=BotId(7), kill_switch=True, kill_reason="x", kill_at=T0, last_loss_at=T0)
    await store.save_risk_state(account)
    await store.save_risk_state(bot)
    assert await store.load_risk_states() == [account, bot]
    lifted = replace(account, halted=False, halt_code="", halt_reason="", halted_at=None)
    await store.save_risk_state(lifted)
    assert await store.load_risk_states() == [lifted, bot]


async def test_equity_snapshots_newest_window_in_time_order(store: Store) -> None:
    snaps = [
        EquitySnapshot(T0 + timedelta(minutes=i), None, Decimal(1000 + i), Decimal(i), Decimal("-0.5"))
        for i in range(5)
    ]
    snaps.append(EquitySnapshot(T0, BotId(3), Decimal("500.25"), Decimal(0), Decimal("0.25")))
    await store.insert_equity_snapshots(snaps)
    account = await store.list_equity_snapshots(limit=3)
    assert [s.equity for s in account] == [Decimal(1002), Decimal(1003), Decimal(1004)]
    bot = await store.list_equity_snapshots(bot_id=3)
    assert [(s.equity, s.unrealized_pnl) for s in bot] == [(Decimal("500.25"), Decimal("0.25"))]


_OPEN = (
    "import asyncio, sys; from streambot.clock import SystemClock; "
    "from streambot.store.database import Store; asyncio.run(Store(sys.argv[1], clock=SystemClock()).open())"
)


async def test_two_processes_migrating_at_once_end_with_one_schema(database_url: str) -> None:
    # Alembic keeps its context in module globals, so "two processes" must really be two.
    # PostgreSQL serialises them with an advisory lock; SQLite with its writer lock.
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", _OPEN, database_url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(2)
    ]
    for run in runs:
        _, err = await asyncio.wait_for(run.communicate(), timeout=60)
        assert run.returncode == 0, err.decode()
    opened = Store(database_url, clock=SystemClock())
    await opened.open()
    try:
        bot = await _bot_id(opened)
        order = await opened.insert_order_with_seq(bot, lambda seq: _order(f"sb-{seq}", bot))
        assert order.client_order_id == ClientOrderId("sb-1")
    finally:
        await opened.close()


async def test_order_numbers_read_on_after_a_restart(database_url: str) -> None:
    # SQLite keeps the numbers in memory after reading them once: a new process reads on.
    first = Store(database_url, clock=SystemClock())
    await first.open()
    try:
        bot = await _bot_id(first)
        for _ in range(3):
            await first.insert_order_with_seq(bot, lambda seq: _order(f"sb-r-{bot}-{seq}", bot))
        with pytest.raises(ValueError, match="naive"):  # a refused value rolls back; the number is not spent
            await first.insert_order_with_seq(
                bot, lambda seq: _order(f"sb-r-{bot}-{seq}", bot, created_at=T0.replace(tzinfo=None))
            )
    finally:
        await first.close()
    again = Store(database_url, clock=SystemClock())
    await again.open()
    try:
        order = await again.insert_order_with_seq(bot, lambda seq: _order(f"sb-r-{bot}-{seq}", bot))
        assert order.client_order_id == f"sb-r-{bot}-4"
        assert await again.get_order(order.client_order_id) == order
    finally:
        await again.close()
