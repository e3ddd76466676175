"""Trades: every executed order with side, size, price, quote amount and fee."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime

from streambot.api.deps import platform
from streambot.api.schemas import TradeOut, TradePage
from streambot.app import Platform

router = APIRouter(prefix="/trades", tags=["trades"])


@router.get("")
async def list_trades(
    p: Annotated[Platform, Depends(platform)],
    bot_id: int | None = None,
    product_id: str | None = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> TradePage:
    """Newest first. Page backwards with ``before_id``."""
    trades = await p.store.list_trades(
        bot_id=bot_id, product_id=product_id, since=since, until=until, limit=limit, before_id=before_id
    )
    next_before = trades[-1].id if len(trades) == limit else None
    return TradePage(trades=[TradeOut.of(t) for t in trades], next_before_id=next_before)
