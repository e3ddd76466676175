"""Orders through their lifecycle, with every step's timestamp and the reason of a rejection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import AwareDatetime, BaseModel

from streambot.api.deps import BotIdQuery, Platform
from streambot.api.errors import unprocessable
from streambot.api.schemas import Amount
from streambot.domain import OrderRecord, OrderStatus

router = APIRouter(prefix="/orders", tags=["orders"])


class OrderOut(BaseModel):
    client_order_id: str
    bot_id: int
    product_id: str
    side: str
    status: str
    reason: str
    quote_size: Amount | None
    base_size: Amount | None
    limit_price: Amount | None
    exchange_order_id: str
    error_code: str
    error: str
    filled_size: Amount
    average_price: Amount
    filled_value: Amount
    fees: Amount
    created_at: datetime
    risk_checked_at: datetime | None
    submitted_at: datetime | None
    acknowledged_at: datetime | None
    completed_at: datetime | None

    @classmethod
    def of(cls, order: OrderRecord) -> OrderOut:
        return cls(
            client_order_id=order.client_order_id,
            bot_id=order.bot_id,
            product_id=order.product_id,
            side=order.side.value,
            status=order.status.value,
            reason=order.reason,
            quote_size=order.quote_size,
            base_size=order.base_size,
            limit_price=order.limit_price,
            exchange_order_id=order.exchange_order_id,
            error_code=order.error_code,
            error=order.error,
            filled_size=order.filled_size,
            average_price=order.average_price,
            filled_value=order.filled_value,
            fees=order.fees,
            created_at=order.created_at,
            risk_checked_at=order.risk_checked_at,
            submitted_at=order.submitted_at,
            acknowledged_at=order.acknowledged_at,
            completed_at=order.completed_at,
        )


class OrderPage(BaseModel):
    orders: list[OrderOut]
    next_before: str | None  # pass back as ``before`` for the next (older) page


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _cursor(order: OrderRecord) -> str:
    # URL-safe as it is (no "+" or ":" to escape): microseconds since the epoch, then the id.
    return f"{(order.created_at - _EPOCH) // _MICROSECOND}_{order.client_order_id}"


def _parse_cursor(raw: str) -> tuple[datetime, str]:
    micros, sep, client_order_id = raw.partition("_")
    if not sep or not client_order_id or not micros.isdigit():
        raise unprocessable(("query", "before"), "before must be a next_before value from a previous page")
    return _EPOCH + int(micros) * _MICROSECOND, client_order_id


@router.get("")
async def list_orders(
    p: Platform,
    bot_id: BotIdQuery = None,
    product_id: str | None = None,
    status_: Annotated[OrderStatus | None, Query(alias="status")] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: str | None = None,
) -> OrderPage:
    """Newest first, rejected ones included (``error_code`` and ``error`` say why)."""
    cursor = _parse_cursor(before) if before is not None else None
    orders = await p.store.page_orders(
        bot_id=bot_id,
        product_id=product_id,
        status=status_.value if status_ is not None else None,
        since=since,
        until=until,
        limit=limit,
        before=cursor,
    )
    return OrderPage(
        orders=[OrderOut.of(o) for o in orders],
        next_before=_cursor(orders[-1]) if len(orders) == limit else None,
    )


@router.get("/{client_order_id}")
async def get_order(p: Platform, client_order_id: str) -> OrderOut:
    order = await p.store.get_order(client_order_id)
    if order is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no order with client_order_id {client_order_id!r}")
    return OrderOut.of(order)
