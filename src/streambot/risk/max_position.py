"""Max position per bot and product, on what was paid for it (cost, fees included) plus open buys.

Measured on cost rather than market value, so that a rising price never turns a position the
rules accepted into a breach, and the figure matches what the user put in.
"""

from __future__ import annotations

from streambot.risk.base import ZERO, Intent, RiskContext, RiskRejection, money

CODE = "MAX_POSITION"


def check(intent: Intent, ctx: RiskContext) -> RiskRejection | None:
    limit = ctx.limits.max_position_notional
    if not intent.is_entry or limit <= ZERO:
        return None
    after = ctx.position.cost + ctx.open_buy_notional + intent.notional
    if after > limit:
        return RiskRejection(
            CODE,
            f"Buying {money(intent.notional)} would take this bot's {intent.product_id} position to "
            f"{money(after)}, above the limit of {money(limit)}.",
        )
    return None
