"""Account balances from the balance cache (one refresh at a time; never floods the exchange)."""

from __future__ import annotations

import logging
from decimal import Decimal

from fastapi import APIRouter, HTTPException, status

from streambot.api.deps import PageLimit, PageOffset, Platform
from streambot.api.schemas import AccountOut, AccountsOut, FeesOut, UnassignedHoldingOut
from streambot.domain import round_down, to_decimal
from streambot.exchange import ExchangeError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/accounts", tags=["accounts"])


@router.get("/fees")
async def fees(p: Platform) -> FeesOut:
    """The fee tier every decision uses: the account's own (live: Coinbase's transaction summary,
    read at start-up and daily) or the configured one (paper: STREAMBOT_PAPER_*_FEE_RATE)."""
    tier = p.bots.fees.current
    return FeesOut(
        maker_fee_rate=tier.maker_fee_rate,
        taker_fee_rate=tier.taker_fee_rate,
        source=tier.source.value,
        round_trip_pct=tier.round_trip_pct,
        break_even_rise_pct=tier.break_even_rise_pct,
    )


@router.get("/unassigned")
async def unassigned(p: Platform) -> list[UnassignedHoldingOut]:
    """Coins of the traded products that no bot's position accounts for: the account's balance of
    each base currency less what the bots hold (a deleted bot's kept coins, coins bought by hand).
    Amounts below the product's base increment are left out."""
    try:
        balances = await p.balances.balances()
    except ExchangeError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the exchange did not return balances; try again shortly"
        ) from exc
    products = p.order_path.products
    held_by_bots: dict[str, Decimal] = {}
    for record in await p.bots.list():
        traded = products.get(record.product_id)
        if traded is not None:
            currency = traded.base_currency
            held_by_bots[currency] = held_by_bots.get(currency, Decimal(0)) + p.bots.position(record.id).base
    out: list[UnassignedHoldingOut] = []
    seen: set[str] = set()
    for product_id in p.settings.products:
        product = products.get(product_id)
        if product is None or product.base_currency in seen:
            continue
        currency = product.base_currency
        seen.add(currency)
        balance = balances.get(currency)
        total = balance.total if balance is not None else Decimal(0)
        left = round_down(total - held_by_bots.get(currency, Decimal(0)), product.base_increment)
        if left <= 0:
            continue
        tick = p.prices.get(product_id)
        price = to_decimal(tick.price) if tick is not None else None
        out.append(
            UnassignedHoldingOut(
                currency=currency,
                product_id=product_id,
                base_size=left,
                price=price,
                market_value=left * price if price is not None else None,
            )
        )
    return out


@router.get("")
async def accounts(
    p: Platform,
    limit: PageLimit = 100,
    offset: PageOffset = 0,
) -> AccountsOut:
    """Balances per currency (largest first), with the age of the cached copy."""
    cache = p.balances
    try:
        balances = await cache.balances()
    except ExchangeError as exc:
        log.warning("❌ Balances unavailable: %s", type(exc).__name__)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the exchange did not return balances; try again shortly"
        ) from exc
    rows = sorted(balances.values(), key=lambda b: (-b.total, b.currency))
    age = cache.age
    return AccountsOut(
        accounts=[
            AccountOut(currency=b.currency, available=b.available, hold=b.hold, total=b.total)
            for b in rows[offset : offset + limit]
        ],
        total=len(rows),
        cache_age_s=round(age, 3) if age is not None else None,
        cache_ttl_s=cache.ttl,
        cache_hit_rate=round(cache.hit_rate, 4),
    )
