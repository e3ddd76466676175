"""Max order notional: no single order worth more than the limit."""

from __future__ import annotations

from streambot.risk.base import ZERO, Intent, RiskContext, RiskRejection, money

CODE = "MAX_ORDER_NOTIONAL"


def check(intent: Intent, ctx: RiskContext) -> RiskRejection | None:
    limit = ctx.limits.max_order_notional
    if limit > ZERO and intent.notional > limit:
        return RiskRejection(
            CODE, f"The order is worth {money(intent.notional)}, above the limit of {money(limit)} per order."
        )
    return None
