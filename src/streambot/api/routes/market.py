"""Market data as the platform last saw it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from streambot.api.deps import Platform
from streambot.api.market_candles import ChartTimeframe
from streambot.api.schemas import CandleOut, CandlesOut, TickerOut

router = APIRouter(prefix="/market", tags=["market"])


@router.get("/tickers")
async def tickers(p: Platform) -> list[TickerOut]:
    """The latest ticker of every product, in the configured order."""
    now = p.clock.time()
    out = []
    for product_id in p.settings.products:
        t = p.prices.get(product_id)
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


@router.get("/candles")
async def candles(
    p: Platform,
    product_id: Annotated[str, Query(min_length=1, max_length=40)],
    timeframe: Annotated[ChartTimeframe, Query(description="Candle length")] = "1m",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CandlesOut:
    """Candles built from the live ticks since start-up, oldest first; the last may be forming."""
    if product_id not in p.settings.products:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"unknown product {product_id!r}; this platform trades {', '.join(p.settings.products)}",
        )
    rows = p.candles.candles(product_id, timeframe, limit)
    return CandlesOut(
        product_id=product_id,
        timeframe=timeframe,
        candles=[
            CandleOut(
                start=c.start,
                open=c.open,
                high=c.high,
                low=c.low,
                close=c.close,
                volume=c.volume,
                closed=not forming,
            )
            for c, forming in rows
        ],
    )
