"""Stale-price guard: no entries on an old price or while the market feed is not live."""

from __future__ import annotations

from streambot.risk.base import Intent, RiskContext, RiskRejection

FEED_CODE = "FEED_NOT_LIVE"
STALE_CODE = "STALE_PRICE"


def check(intent: Intent, ctx: RiskContext) -> RiskRejection | None:
    if not intent.is_entry or ctx.limits.stale_price_s <= 0:
        return None
    if ctx.feed_state != "live":
        return RiskRejection(
            FEED_CODE,
            f"The market feed is {ctx.feed_state}, not live; no new positions on prices that may be old.",
        )
    age = ctx.now - ctx.price_time
    if age > ctx.limits.stale_price_s:
        return RiskRejection(
            STALE_CODE,
            f"The price of {intent.product_id} is {age:.0f}s old (limit {ctx.limits.stale_price_s:g}s); "
            "no new position on a stale price.",
        )
    return None
