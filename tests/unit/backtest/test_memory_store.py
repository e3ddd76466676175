"""The backtest's in-memory store: final orders archived to a spill file are still read and written
as if they had stayed in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from streambot.backtest.memory_store import MemoryStore
from streambot.clock import ManualClock
from streambot.domain import (
    BotId,
    ClientOrderId,
    Fill,
    OrderRecord,
    OrderStatus,
    ProductId,
    Side,
    Trade,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _store() -> tuple[MemoryStore, BotId]:
    store = MemoryStore(ManualClock(T0))
    bot = await store.create_bot("a", "threshold", "BTC-USD", {}, Decimal(1000))
    return store, bot.id


async def _order(store: MemoryStore, bot_id: BotId, side: Side = Side.BUY) -> OrderRecord:
    def make(seq: int) -> OrderRecord:
        return OrderRecord(
            client_order_id=ClientOrderId(f"o-{bot_id}-{seq}"),
            bot_id=bot_id,
            product_id=ProductId("BTC-USD"),
            side=side,
            status=OrderStatus.INTENT,
            reason="test",
            created_at=T0 + timedelta(seconds=seq),
            quote_size=Decimal("100.50") if side is Side.BUY else None,
            base_size=None if side is Side.BUY else Decimal("0.001"),
        )

    return await store.insert_order_with_seq(bot_id, make)


def _fill(trade_id: str, order: OrderRecord, size: str = "0.001") -> Fill:
    return Fill(
        trade_id=trade_id,
        order_id=f"x-{order.client_order_id}",
        product_id=order.product_id,
        side=order.side,
        price=Decimal("100000.00"),
        size=Decimal(size),
        commission=Decimal("0.6000000000000000"),
        trade_time=order.created_at + timedelta(milliseconds=50),
    )


def _trade(order: OrderRecord, size: str = "0.001") -> Trade:
    return Trade(
        bot_id=order.bot_id,
        product_id=order.product_id,
        side=order.side,
        base_size=Decimal(size),
        price=Decimal("100000.00"),
        quote_amount=Decimal(size) * Decimal("100000.00"),
        fee=Decimal("0.6"),
        net_total=Decimal("100.6"),
        status=OrderStatus.FILLED,
        client_order_id=order.client_order_id,
        exchange_order_id=f"x-{order.client_order_id}",
        reason=order.reason,
        created_at=order.created_at,
        filled_at=order.created_at + timedelta(milliseconds=50),
    )


async def _filled(store: MemoryStore, bot_id: BotId, side: Side = Side.BUY) -> OrderRecord:
    order = await _order(store, bot_id, side)
    submitted = order.created_at + timedelta(milliseconds=1)
    await store.update_order(order.client_order_id, status=OrderStatus.SUBMITTED, submitted_at=submitted)
    assert await store.insert_fill(
        _fill(f"t-{order.client_order_id}", order), bot_id=bot_id, client_order_id=order.client_order_id
    )
    done = await store.update_order(
        order.client_order_id,
        status=OrderStatus.FILLED,
        exchange_order_id=f"x-{order.client_order_id}",
        filled_size=Decimal("0.001"),
        completed_at=submitted,
    )
    await store.upsert_trade(_trade(done))
    return done


async def test_final_orders_leave_memory_and_are_read_back_whole_in_the_order_they_were_stored() -> None:
    store, bot = await _store()
    first = await _filled(store, bot)
    working = await _order(store, bot)  # still an intent: it stays in memory
    second = await _filled(store, bot, Side.SELL)
    fills_before = await store.fills_for_bot(bot)
    trades_before = list(store.trades.values())
    net_before = await store.net_base_by_product()
    submitted_before = await store.submitted_since(T0)

    moved = store.archive_final()

    assert [o.client_order_id for o in moved] == [first.client_order_id, second.client_order_id]
    assert list(store.orders) == [working.client_order_id]
    assert store.fills == {}
    assert store.trades == {}
    assert store.all_orders() == [first, working, second]
    assert [s.fill for s in store.all_fills()] == fills_before
    assert store.all_trades() == trades_before
    assert await store.fills_for_bot(bot) == fills_before
    assert await store.net_base_by_product() == net_before
    assert await store.submitted_since(T0) == submitted_before
    assert await store.get_orders([second.client_order_id, "nope", first.client_order_id]) == {
        second.client_order_id: second,
        first.client_order_id: first,
    }
    assert await store.known_trade_ids([f"t-{first.client_order_id}", "t-other"]) == {
        f"t-{first.client_order_id}"
    }
    assert await store.unresolved_orders() == [working]
    assert store.archive_final() == []


async def test_an_archived_order_written_again_comes_back_into_memory() -> None:
    store, bot = await _store()
    order = await _filled(store, bot)
    store.archive_final()
    key = order.client_order_id

    # The same fill again is known; a new one is stored with the order, now back in memory.
    assert not await store.insert_fill(_fill(f"t-{key}", order), bot_id=bot, client_order_id=key)
    assert key in store.orders
    assert await store.insert_fill(_fill(f"t2-{key}", order), bot_id=bot, client_order_id=key)
    stored = await store.upsert_trade(_trade(order, "0.002"))
    assert stored.id == 1  # the trade it had, updated
    again = await store.update_order(key, filled_size=Decimal("0.002"))

    assert store.archive_final() == [again]
    assert store.all_orders() == [again]  # the older archived copy is not read any more
    assert [s.fill.trade_id for s in store.all_fills()] == [f"t-{key}", f"t2-{key}"]
    assert [t.base_size for t in store.all_trades()] == [Decimal("0.002")]
    assert await store.net_base_by_product() == {"BTC-USD": Decimal("0.002")}


async def test_a_fill_of_an_order_never_stored_is_refused_archive_or_not() -> None:
    store, bot = await _store()
    order = await _filled(store, bot)
    store.archive_final()
    other = OrderRecord(
        client_order_id=ClientOrderId("unknown"),
        bot_id=bot,
        product_id=ProductId("BTC-USD"),
        side=Side.BUY,
        status=OrderStatus.INTENT,
        reason="",
        created_at=T0,
    )
    with pytest.raises(LookupError):
        await store.insert_fill(_fill("t-new", other), bot_id=bot, client_order_id="unknown")
    with pytest.raises(LookupError):
        await store.update_order("unknown", status=OrderStatus.FILLED)
    # A known trade id is known whichever order it is offered with.
    assert not await store.insert_fill(
        _fill(f"t-{order.client_order_id}", other), bot_id=bot, client_order_id="unknown"
    )


async def test_an_order_and_its_trade_are_never_moved_back_to_a_smaller_size_archived_or_not() -> None:
    """As the SQL store: a settlement of an older read of the exchange, stored last, changes
    nothing (``OrderStore.update_order``, ``TradeStore.upsert_trade``)."""
    store, bot = await _store()
    order = await _filled(store, bot)
    key = order.client_order_id
    (trade,) = store.trades.values()
    for archived in (False, True):
        if archived:
            store.archive_final()
        older = await store.update_order(
            key, status=OrderStatus.PARTIALLY_FILLED, filled_size=Decimal("0.0005")
        )
        assert older == order
        assert await store.upsert_trade(_trade(order, "0.0005")) == trade
    assert store.all_orders() == [order]
    assert store.all_trades() == [trade]
    same = await store.update_order(key, status=OrderStatus.FILLED, filled_size=Decimal("0.0010"), error="x")
    assert same.error == "x"


async def test_final_orders_with_fills_and_no_trade_of_their_size_are_listed_archived_or_not() -> None:
    """As the SQL store's ``final_orders_without_their_trade``."""
    store, bot = await _store()
    booked = await _filled(store, bot)
    order = await _order(store, bot)
    left = await store.update_order(
        order.client_order_id, status=OrderStatus.FILLED, filled_size=Decimal("0.001"), completed_at=T0
    )
    await _order(store, bot)  # not final
    assert await store.final_orders_without_their_trade() == [left]
    store.archive_final()
    assert await store.final_orders_without_their_trade() == [left]
    await store.upsert_trade(_trade(left, "0.0010"))  # its size, written longer
    assert await store.final_orders_without_their_trade() == []
    assert booked in store.all_orders()
