"""Realised and unrealised P&L per bot and in total, and the equity curve."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel

from streambot.api.deps import BotIdQuery, Platform
from streambot.api.schemas import Amount, Computed
from streambot.trading.pnl import pnl_totals

router = APIRouter(prefix="/pnl", tags=["pnl"])


class BotPnlOut(BaseModel):
    bot_id: int
    name: str
    product_id: str
    budget: Amount
    realized_pnl: Computed
    unrealized_pnl: Computed
    total_pnl: Computed
    equity: Computed


class PnlOut(BaseModel):
    bots: list[BotPnlOut]
    realized_pnl: Computed
    unrealized_pnl: Computed
    total_pnl: Computed
    account_equity: Computed | None  # None until balances and prices are known


class EquityPointOut(BaseModel):
    taken_at: datetime
    equity: Computed
    realized_pnl: Computed
    unrealized_pnl: Computed


@router.get("")
async def pnl(p: Platform) -> PnlOut:
    bots = await p.trading.bots_pnl()
    realized, unrealized = pnl_totals(bots)
    return PnlOut(
        bots=[
            BotPnlOut(
                bot_id=b.bot_id,
                name=b.name,
                product_id=b.product_id,
                budget=b.budget,
                realized_pnl=b.realized,
                unrealized_pnl=b.unrealized,
                total_pnl=b.total,
                equity=b.equity,
            )
            for b in bots
        ],
        realized_pnl=realized,
        unrealized_pnl=unrealized,
        total_pnl=realized + unrealized,
        account_equity=await p.trading.account_equity(),
    )


@router.get("/equity")
async def equity_curve(
    p: Platform,
    bot_id: BotIdQuery = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> list[EquityPointOut]:
    """Snapshots oldest first: the account's without ``bot_id``, else that bot's."""
    snapshots = await p.store.list_equity_snapshots(bot_id=bot_id, since=since, until=until, limit=limit)
    return [
        EquityPointOut(
            taken_at=s.taken_at, equity=s.equity, realized_pnl=s.realized_pnl, unrealized_pnl=s.unrealized_pnl
        )
        for s in snapshots
    ]
