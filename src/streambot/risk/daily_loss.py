"""Daily loss limit on the account's equity, measured from its value at the start of the UTC day."""

from __future__ import annotations

from decimal import Decimal

from streambot.risk.base import Intent, RiskContext, RiskRejection, amount, fall_beyond, money

CODE = "DAILY_LOSS_LIMIT"


def breached(day_start: Decimal | None, equity: Decimal | None, limit_pct: Decimal) -> RiskRejection | None:
    """The rejection (and reason to halt) when today's loss reached the limit; shared with the engine."""
    loss = fall_beyond(day_start, equity, limit_pct)
    if loss is None:
        return None
    return RiskRejection(
        CODE,
        f"The account lost {money(loss.amount)} today ({loss.pct:.2f}% of {money(loss.reference)}), "
        f"reaching the daily loss limit of {amount(limit_pct)}%.",
    )


def check(intent: Intent, ctx: RiskContext) -> RiskRejection | None:
    if not intent.is_entry:
        return None
    return breached(ctx.account.day_start_equity, ctx.equity, ctx.limits.daily_loss_pct)
