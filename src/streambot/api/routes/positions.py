"""Positions per bot: what is held, its average entry and its value at the latest price."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from streambot.api.deps import BotIdQuery, Platform
from streambot.api.schemas import Amount, Computed
from streambot.trading.pnl import BotPnl

router = APIRouter(prefix="/positions", tags=["positions"])


class PositionOut(BaseModel):
    bot_id: int
    name: str
    product_id: str
    base_size: Amount
    cost: Computed
    average_entry: Computed
    price: Amount | None
    market_value: Computed
    unrealized_pnl: Computed
    realized_pnl: Computed

    @classmethod
    def of(cls, pnl: BotPnl) -> PositionOut:
        return cls(
            bot_id=pnl.bot_id,
            name=pnl.name,
            product_id=pnl.product_id,
            base_size=pnl.base,
            cost=pnl.cost,
            average_entry=pnl.average_entry,
            price=pnl.price,
            market_value=pnl.market_value,
            unrealized_pnl=pnl.unrealized,
            realized_pnl=pnl.realized,
        )


@router.get("")
async def list_positions(
    p: Platform,
    bot_id: BotIdQuery = None,
    product_id: str | None = None,
) -> list[PositionOut]:
    """Every bot's position (the sum of its fills); bots holding nothing are listed with zeros."""
    return [
        PositionOut.of(b)
        for b in await p.trading.bots_pnl()
        if (bot_id is None or b.bot_id == bot_id) and (product_id is None or b.product_id == product_id)
    ]
