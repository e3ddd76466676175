"""The balance check on a ManualClock: coins no bot owns never trip it, a balance that moves
without fills does, once confirmed; entries on the product stay halted until acknowledged."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Coroutine
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from streambot.bus import InProcessBus
from streambot.clock import ManualClock
from streambot.domain import Balance
from streambot.events import Event, PositionMismatchFound
from streambot.trading.balance_check import BalanceCheck
from streambot.trading.holds import ProductHolds
from tests.unit.risk.support import BTC
from tests.unit.trading.test_order_path import MemoryHoldStore

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Account:
    """Balances the exchange reports and the net fills the store holds, set by the test."""

    def __init__(self) -> None:
        self.btc = Decimal("2.5")  # held before any bot traded: the simulator's or a person's
        self.net = Decimal(0)

    async def accounts(self) -> list[Balance]:
        return [Balance("USD", Decimal(10_000), Decimal(0)), Balance("BTC", self.btc - 1, Decimal(1))]

    async def net_base_by_product(self) -> dict[str, Decimal]:
        return {BTC.product_id: self.net}

    async def known_trade_ids(self, trade_ids: Collection[str]) -> set[str]:
        return set()


def _check(clock: ManualClock, account: Account) -> tuple[BalanceCheck, ProductHolds, list[Event]]:
    bus = InProcessBus(clock)
    seen: list[Event] = []
    bus.subscribe("risk", seen.append)
    holds = ProductHolds(store=MemoryHoldStore(), bus=bus, clock=clock)
    check = BalanceCheck(
        accounts=account.accounts,
        fills=account,
        holds=holds,
        bus=bus,
        products={BTC.product_id: BTC},
        busy=set(),
        clock=clock,
        interval=300.0,
        confirm_after=10.0,
    )
    return check, holds, seen


async def test_coins_no_bot_owns_and_booked_fills_never_trip_it() -> None:
    clock = ManualClock(START)
    account = Account()
    check, holds, seen = _check(clock, account)
    assert await check.check() == []
    account.btc += Decimal("0.1")  # a bot bought 0.1, booked
    account.net += Decimal("0.1")
    assert await check.check() == []
    account.btc += Decimal("0.000000001")  # below the base increment
    assert await check.check() == []
    assert seen == []
    assert holds.held(BTC.product_id) is None


async def test_a_balance_that_moves_without_fills_halts_entries_until_acknowledged() -> None:
    clock = ManualClock(START)
    account = Account()
    check, holds, seen = _check(clock, account)
    await check.check()
    account.btc += Decimal("0.05")  # a fill the store never booked
    found = await clock_run(clock, check.check())
    (event,) = found
    assert event.asset == "BTC"
    assert event.difference == Decimal("0.05")
    assert [type(e) for e in seen] == [PositionMismatchFound]
    hold = holds.held(BTC.product_id)
    assert hold is not None
    assert hold.code == "POSITION_MISMATCH"
    # Found again at the next check, but published and held once.
    assert await clock_run(clock, check.check()) == []
    assert len(seen) == 1

    assert await holds.acknowledge(BTC.product_id, "ops")
    assert holds.held(BTC.product_id) is None
    assert await check.check() == []  # what the person accepted is measured again
    assert not await holds.acknowledge(BTC.product_id, "ops")


async def test_a_difference_gone_when_read_again_is_no_mismatch() -> None:
    clock = ManualClock(START)
    account = Account()
    check, holds, _ = _check(clock, account)
    await check.check()
    account.btc += Decimal("0.05")  # the exchange filled; the fill is being booked
    task = asyncio.ensure_future(check.check())
    await asyncio.sleep(0)  # the first reading is taken
    account.net += Decimal("0.05")  # booked before the second
    while not task.done():
        await clock.run_for(1)
    assert task.result() == []
    assert holds.held(BTC.product_id) is None


async def test_bots_that_own_more_than_the_account_holds_trip_it_at_once() -> None:
    clock = ManualClock(START)
    account = Account()
    account.net = Decimal(3)
    check, holds, _ = _check(clock, account)
    found = await clock_run(clock, check.check())
    assert [e.difference for e in found] == [Decimal("-0.5")]
    assert holds.held(BTC.product_id) is not None


async def clock_run(
    clock: ManualClock, checking: Coroutine[Any, Any, list[PositionMismatchFound]]
) -> list[PositionMismatchFound]:
    """Await a check while the clock runs through its confirmation pause."""
    task = asyncio.ensure_future(checking)
    while not task.done():
        await clock.run_for(1)
    return task.result()
