"""Trades: every executed order with side, size, price, quote amount and fee.

Each trade also carries its order's lifecycle timestamps (risk check, sent, acknowledged,
completed), so a slow fill can be traced to the step that took the time. The fields of the old
shape are kept as they were: scripts read them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from streambot.api.deps import BotIdQuery, Platform
from streambot.api.schemas import TradeOut
from streambot.domain import OrderRecord, Trade

router = APIRouter(prefix="/trades", tags=["trades"])


class TradeWithLifecycle(TradeOut):
    """A trade and the timestamps of its order (None for a step the order never reached)."""

    risk_checked_at: datetime | None = Field(default=None, description="sized and every risk rule passed")
    submitted_at: datetime | None = Field(default=None, description="sent to the exchange")
    acknowledged_at: datetime | None = Field(default=None, description="the exchange took the order")
    completed_at: datetime | None = Field(default=None, description="final state booked")

    @classmethod
    def with_order(cls, trade: Trade, order: OrderRecord | None) -> Self:
        out = cls.of(trade)
        if order is not None:
            out.risk_checked_at = order.risk_checked_at
            out.submitted_at = order.submitted_at
            out.acknowledged_at = order.acknowledged_at
            out.completed_at = order.completed_at
        return out


class TradeLifecyclePage(BaseModel):
    trades: list[TradeWithLifecycle]
    next_before_id: int | None = Field(description="Pass as before_id for the next (older) page")


@router.get("")
async def list_trades(
    p: Platform,
    bot_id: BotIdQuery = None,
    product_id: str | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> TradeLifecyclePage:
    """Newest first. Page backwards with ``before_id``."""
    trades = await p.store.list_trades(
        bot_id=bot_id, product_id=product_id, since=since, until=until, limit=limit, before_id=before_id
    )
    orders = await p.store.get_orders({t.client_order_id for t in trades})
    next_before = trades[-1].id if len(trades) == limit else None
    return TradeLifecyclePage(
        trades=[TradeWithLifecycle.with_order(t, orders.get(t.client_order_id)) for t in trades],
        next_before_id=next_before,
    )
