"""Market data as the platform last saw it."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Depends

from streambot.api.deps import platform
from streambot.api.schemas import TickerOut
from streambot.app import Platform

router = APIRouter(prefix="/market", tags=["market"])


@router.get("/tickers")
async def tickers(p: Annotated[Platform, Depends(platform)]) -> list[TickerOut]:
    """The latest ticker of every product, in the configured order."""
    now = time.time()
    out = []
    for product_id in p.settings.products:
        t = p.bus.latest.get(product_id)
        if t is None:
            continue
        out.append(
            TickerOut(
                product_id=t.product_id,
                price=t.price,
                best_bid=t.best_bid,
                best_ask=t.best_ask,
                volume_24h=t.volume_24h,
                low_24h=t.low_24h,
                high_24h=t.high_24h,
                price_change_pct_24h=t.price_change_pct_24h,
                time=t.time,
                age_s=round(max(0.0, now - t.time), 3),
            )
        )
    return out
