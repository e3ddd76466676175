"""Unknown outcomes against the simulator: the create call times out while the simulator (like the
exchange) still creates and fills the order. streambot looks it up instead of giving up on it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streambot.domain import OrderStatus
from streambot.events import OrderUpdated
from tests.integration.trading.conftest import Trading

pytestmark = pytest.mark.integration


async def test_a_timed_out_create_that_the_exchange_filled_is_adopted_and_booked_once(
    trading: Trading,
) -> None:
    await trading.start(exchange_timeout_s=1.0)
    simulator = trading.p.simulator
    assert simulator is not None
    # Creates and cancels are handled at once but answered 2.5 s later: past the client's 1 s.
    await simulator.inject_fault("slow_response", ms=2500, seconds=60, writes_only=True)
    bot_id = await trading.bot(budget="300", order_pct=10)

    def unknown() -> str | None:
        for event in trading.events:
            if isinstance(event, OrderUpdated) and event.order.status is OrderStatus.UNKNOWN:
                return event.order.client_order_id
        return None

    client_order_id = await trading.until(unknown)

    async def filled() -> bool:
        stored = await trading.p.store.get_order(client_order_id)
        return stored is not None and stored.status is OrderStatus.FILLED

    await trading.until(filled)
    await trading.p.bots.stop(bot_id)
    await simulator.clear_faults()
    await trading.p.order_path.drain()

    stored = await trading.p.store.get_order(client_order_id)
    assert stored is not None
    assert stored.exchange_order_id
    # Every order the exchange has for this bot was sent once and is FILLED in the store too.
    ours = {
        o.client_order_id: o
        for o in await trading.p.store.page_orders(bot_id=bot_id, limit=100)
        if o.status is not OrderStatus.REJECTED
    }
    on_exchange = [
        o for o in await trading.p.exchange.list_orders(product_ids=["BTC-USD"]) if o.client_order_id in ours
    ]
    assert len(on_exchange) == len({o.client_order_id for o in on_exchange}), "an order was sent twice"
    assert {o.client_order_id for o in on_exchange} == set(ours)
    for order in on_exchange:
        assert ours[order.client_order_id].status is OrderStatus.FILLED
        assert ours[order.client_order_id].exchange_order_id == order.order_id
    # Each fill booked once; the position is the sum of the fills the exchange reports.
    fills = await trading.p.store.fills_for_bot(bot_id)
    assert len({f.trade_id for f in fills}) == len(fills)
    exchange_fills = await trading.p.exchange.list_fills(order_ids=[o.order_id for o in on_exchange])
    assert sorted(f.trade_id for f in fills) == sorted(f.trade_id for f in exchange_fills)
    position = trading.p.bots.position(bot_id)
    assert position.base == sum((f.size for f in exchange_fills), Decimal(0)) > 0


async def test_an_order_created_after_its_client_gave_up_is_looked_up_until_the_exchange_answers(
    trading: Trading,
) -> None:
    await trading.start(exchange_timeout_s=0.5)
    simulator = trading.p.simulator
    assert simulator is not None
    # Every REST request waits 1.5 s before it is handled: the create call times out, the
    # simulator creates the order anyway a second later, and every lookup times out too until
    # the fault ends. A lookup that fails or misses must not make the order FAILED.
    await simulator.inject_fault("latency", ms=1500, seconds=6)
    bot_id = await trading.bot(budget="300", order_pct=10)

    def unknown() -> str | None:
        for event in trading.events:
            if isinstance(event, OrderUpdated) and event.order.status is OrderStatus.UNKNOWN:
                return event.order.client_order_id
        return None

    client_order_id = await trading.until(unknown)

    async def resolved() -> OrderStatus | None:
        stored = await trading.p.store.get_order(client_order_id)
        return stored.status if stored is not None and stored.status.is_final else None

    assert await trading.until(resolved, within=40) is OrderStatus.FILLED
    await trading.p.bots.stop(bot_id)
    await trading.p.order_path.drain()
    stored = await trading.p.store.get_order(client_order_id)
    assert stored is not None
    found = await trading.p.exchange.find_order(stored.client_order_id, stored.product_id)
    assert found is not None
    assert found.order_id == stored.exchange_order_id
    fills = await trading.p.store.fills_for_bot(bot_id)
    assert len({f.trade_id for f in fills}) == len(fills)
    assert trading.p.bots.position(bot_id).base == sum((f.size for f in fills), Decimal(0)) > 0
    assert not [
        e for e in trading.events if isinstance(e, OrderUpdated) and e.order.status is OrderStatus.FAILED
    ]
