"""Max trades per hour per bot: a strategy gone wild cannot churn the account in fees.

Only entries are limited: an exit is never held back by the count.
"""

from __future__ import annotations

from streambot.risk.base import Intent, RiskContext, RiskRejection

CODE = "MAX_TRADES_PER_HOUR"


def check(intent: Intent, ctx: RiskContext) -> RiskRejection | None:
    limit = ctx.limits.max_trades_per_hour
    if not intent.is_entry or limit <= 0:
        return None
    if ctx.trades_last_hour >= limit:
        return RiskRejection(
            CODE, f"This bot sent {ctx.trades_last_hour} orders in the last hour, the limit is {limit}."
        )
    return None
