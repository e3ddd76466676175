"""Reconciliation against the simulator: what a crash left behind is booked, never sent twice."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from streambot.domain import BotId, ClientOrderId, OrderRecord, OrderRequest, OrderStatus, Side
from tests.integration.trading.conftest import Trading

pytestmark = pytest.mark.integration


async def _quiet_bot(trading: Trading) -> BotId:
    """A running bot whose strategy never trades: the test places its orders."""
    bots = trading.p.bots
    assert bots is not None
    record = await bots.create(
        name="quiet",
        strategy="threshold",
        product_id="BTC-USD",
        params={"buy_below": 1, "sell_above": 1e12},
        budget=Decimal(1000),
    )
    await bots.start(record.id)
    return record.id


async def _intent(trading: Trading, bot_id: BotId, quote: str) -> OrderRecord:
    """An order stored as the executor stores it just before sending."""
    prefix = f"sb-{trading.p.instance_id}-{bot_id}-"
    now = datetime.now(UTC)
    return await trading.p.store.insert_order_with_seq(
        bot_id,
        lambda seq: OrderRecord(
            client_order_id=ClientOrderId(f"{prefix}{seq}"),
            bot_id=bot_id,
            product_id="BTC-USD",
            side=Side.BUY,
            status=OrderStatus.RISK_CHECKED,
            reason="test",
            created_at=now,
            quote_size=Decimal(quote),
            risk_checked_at=now,
        ),
    )


async def test_an_order_that_never_left_is_marked_failed(trading: Trading) -> None:
    await trading.start()
    bot_id = await _quiet_bot(trading)
    order = await _intent(trading, bot_id, "25")
    reconciler = trading.p.trading.reconciler
    assert reconciler is not None
    report = await reconciler.run_once()
    assert report.never_submitted == 1
    stored = await trading.p.store.get_order(order.client_order_id)
    assert stored is not None
    assert stored.status is OrderStatus.FAILED
    assert stored.error_code == "NEVER_SUBMITTED"
    assert await trading.p.store.unresolved_orders() == []
    assert len(trading.p.trading.book) == 0


async def test_an_order_sent_before_a_crash_is_found_by_client_order_id_and_booked_once(
    trading: Trading,
) -> None:
    await trading.start()
    bot_id = await _quiet_bot(trading)
    order = await _intent(trading, bot_id, "40")
    exchange = trading.p.exchange
    assert exchange is not None
    # Sent, and then the answer was lost: the store never heard of the exchange's order id.
    placed = await exchange.place_order(
        OrderRequest(order.client_order_id, "BTC-USD", Side.BUY, quote_size=Decimal(40))
    )
    assert placed.success

    reconciler = trading.p.trading.reconciler
    assert reconciler is not None
    report = await reconciler.run_once()
    assert report.settled == 1
    stored = await trading.p.store.get_order(order.client_order_id)
    assert stored is not None
    assert stored.status is OrderStatus.FILLED
    assert stored.exchange_order_id == placed.order_id
    fills = await trading.p.store.fills_for_bot(bot_id)
    assert fills
    assert sum(f.size for f in fills) == stored.filled_size
    bots = trading.p.bots
    assert bots is not None
    assert bots.position(bot_id).base == sum(f.size for f in fills)
    trades = await trading.p.store.list_trades(bot_id=bot_id)
    assert [t.client_order_id for t in trades] == [order.client_order_id]

    # Settling the same order again books nothing twice.
    settler = trading.p.executor.settler if trading.p.executor else None
    assert settler is not None
    found = await exchange.get_order(placed.order_id)
    await settler.settle(stored, found)
    assert len(await trading.p.store.fills_for_bot(bot_id)) == len(fills)
    assert bots.position(bot_id).base == sum(f.size for f in fills)
    assert (await reconciler.run_once()).checked == 0
