"""What only the exchange knows, against the simulator: the sweep adopts what the store has under
another outcome and flags what it has no record of; the balance check halts entries on a product
whose balance moved without the bots' fills until a person acknowledges it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streambot.domain import ClientOrderId, OrderRecord, OrderRequest, OrderStatus, Side
from streambot.events import ExchangeActivityFlagged, PositionMismatchFound
from tests.integration.trading.conftest import Trading
from tests.integration.trading.test_reconcile import _intent, _quiet_bot

pytestmark = pytest.mark.integration


async def test_an_order_stored_as_failed_that_the_exchange_filled_is_adopted_and_booked_once(
    trading: Trading,
) -> None:
    await trading.start()
    bot_id = await _quiet_bot(trading)
    order = await _intent(trading, bot_id, "40")
    placed = await trading.p.exchange.place_order(
        OrderRequest(order.client_order_id, "BTC-USD", Side.BUY, quote_size=Decimal(40))
    )
    assert placed.success
    # What streambot did before unknown outcomes: one missed lookup, and the order was FAILED.
    await trading.p.store.update_order(
        order.client_order_id, status=OrderStatus.FAILED, error_code="UNKNOWN_OUTCOME"
    )

    report = await trading.p.trading.sweep.run_once()
    assert report.adopted == 1
    assert report.flagged == 0
    stored = await trading.p.store.get_order(order.client_order_id)
    assert stored is not None
    assert stored.status is OrderStatus.FILLED
    assert stored.exchange_order_id == placed.order_id
    fills = await trading.p.store.fills_for_bot(bot_id)
    assert fills
    assert trading.p.bots.position(bot_id).base == sum((f.size for f in fills), Decimal(0))

    again = await trading.p.trading.sweep.run_once()
    assert (again.adopted, again.flagged) == (0, 0)
    assert await trading.p.store.fills_for_bot(bot_id) == fills


async def test_coins_bought_behind_streambots_back_are_flagged_and_halt_entries_until_acknowledged(
    trading: Trading,
) -> None:
    await trading.start()
    check = trading.p.trading.balance_check
    check.confirm_after = 0.2
    assert await check.check() == []  # measured: what the account holds that no bot bought

    manual = await trading.p.exchange.place_order(
        OrderRequest(ClientOrderId("by-hand-1"), "BTC-USD", Side.BUY, quote_size=Decimal(50))
    )
    assert manual.success
    report = await trading.p.trading.sweep.run_once()
    assert report.flagged == 1
    assert any(
        isinstance(e, ExchangeActivityFlagged) and e.exchange_order_id == manual.order_id
        for e in trading.events
    )
    assert f"exchange_activity.{manual.order_id}" in trading.p.alerts.active

    (found,) = await check.check()
    assert found.asset == "BTC"
    assert found.difference > 0
    assert any(isinstance(e, PositionMismatchFound) for e in trading.events)
    assert "position_mismatch.BTC-USD" in trading.p.alerts.active
    risk = await trading.get("/api/v1/risk")
    assert [h["product_id"] for h in risk["product_holds"]] == ["BTC-USD"]

    # A bot's entry on the product is refused, with the reason stored on its order.
    bot_id = await trading.bot(budget="300", order_pct=10)

    async def refused() -> OrderRecord | None:
        orders = await trading.p.store.page_orders(bot_id=bot_id, limit=10)
        return next((o for o in orders if o.error_code == "POSITION_MISMATCH"), None)

    rejection = await trading.until(refused)
    assert "POST /api/v1/risk/acknowledge" in rejection.error

    status, body = await trading.post("/api/v1/risk/acknowledge", {"product_id": "ETH-EUR", "by": "ops"})
    assert status == 422, body
    status, body = await trading.post("/api/v1/risk/acknowledge", {"product_id": "BTC-USD", "by": "ops"})
    assert status == 200, body
    assert body == {"changed": True, "product_id": "BTC-USD", "product_holds": []}
    assert "position_mismatch.BTC-USD" not in trading.p.alerts.active

    async def bought() -> bool:
        orders = await trading.p.store.page_orders(bot_id=bot_id, limit=50)
        return any(o.status is OrderStatus.FILLED for o in orders)

    await trading.until(bought)
    status, body = await trading.post("/api/v1/risk/acknowledge", {"product_id": "BTC-USD", "by": "ops"})
    assert (status, body["changed"]) == (200, False)
    assert await check.check() == []  # the coins bought by hand are the account's own now
