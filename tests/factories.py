"""Small builders of domain objects shared by tests."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from streambot.clock import Clock
from streambot.domain import (
    COINBASE_ENTRY_TIER,
    BotId,
    ClientOrderId,
    FeeSource,
    FeeTier,
    OrderRecord,
    OrderStatus,
    ProductId,
    Side,
    Ticker,
    Trade,
)
from streambot.trading.fees import FeeSchedule


def tick(product_id: str = "BTC-USD", price: float = 100.0, *, seq: int = 0, spread: float = 0.01) -> Ticker:
    return Ticker(
        product_id=product_id,
        price=price,
        best_bid=price - spread,
        best_ask=price + spread,
        volume_24h=1000.0,
        low_24h=price * 0.9,
        high_24h=price * 1.1,
        price_change_pct_24h=0.5,
        time=time.time(),
        received_ns=time.perf_counter_ns(),
        sequence=seq,
    )


def order_record(
    bot_id: int = 1, status: str = "filled", client_order_id: str = "c-1", **changes: object
) -> OrderRecord:
    """An order as the bus carries it in ``OrderUpdated``."""
    record = OrderRecord(
        client_order_id=ClientOrderId(client_order_id),
        bot_id=BotId(bot_id),
        product_id=ProductId("BTC-USD"),
        side=Side.BUY,
        status=OrderStatus(status),
        reason="test",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        quote_size=Decimal("10"),
    )
    return replace(record, **changes)  # type: ignore[arg-type]


def trade_record(bot_id: int = 1, side: Side = Side.BUY) -> Trade:
    """A booked trade as the bus carries it in ``TradeBooked``."""
    return Trade(
        bot_id=BotId(bot_id),
        product_id=ProductId("BTC-USD"),
        side=side,
        base_size=Decimal("0.001"),
        price=Decimal("100000.5"),
        quote_amount=Decimal("100.0005"),
        fee=Decimal("0.6"),
        net_total=Decimal("100.6005"),
        status=OrderStatus.FILLED,
        client_order_id=ClientOrderId("c-1"),
        exchange_order_id="x-1",
        reason="test",
        created_at=datetime(2025, 1, 1, tzinfo=UTC),
        filled_at=datetime(2025, 1, 1, 0, 0, 1, 123456, tzinfo=UTC),
        id=7,
    )


def entry_tier_fees(clock: Clock) -> FeeSchedule:
    """Coinbase's entry tier, configured (what paper trading uses by default)."""

    async def read() -> FeeTier:
        return COINBASE_ENTRY_TIER

    return FeeSchedule(read, initial=COINBASE_ENTRY_TIER, source=FeeSource.CONFIGURED, clock=clock)
