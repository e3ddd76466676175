"""Account balances from the balance cache (one refresh at a time; never floods the exchange)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, HTTPException, status

from streambot.api.deps import PageLimit, PageOffset, Platform
from streambot.api.schemas import AccountOut, AccountsOut
from streambot.exchange import ExchangeError

log = logging.getLogger(__name__)

router = APIRouter(prefix="/accounts", tags=["accounts"])


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
    rows = sorted(balances.values(), key=lambda b: (-(b.available + b.hold), b.currency))
    age = cache.age
    return AccountsOut(
        accounts=[
            AccountOut(currency=b.currency, available=b.available, hold=b.hold, total=b.available + b.hold)
            for b in rows[offset : offset + limit]
        ],
        total=len(rows),
        cache_age_s=round(age, 3) if age is not None else None,
        cache_ttl_s=cache.ttl,
        cache_hit_rate=round(cache.hit_rate, 4),
    )
