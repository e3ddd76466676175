"""Daily loss limit on the account's equity, measured from its value at the start of the UTC day."""

from __future__ import annotations

from decimal import Decimal

from streambot.risk.base import HUNDRED, ZERO, Intent, Rejection, RiskContext, amount, money

CODE = "DAILY_LOSS_LIMIT"


def breached(day_start: Decimal | None, equity: Decimal | None, limit_pct: Decimal) -> Rejection | None:
    """The rejection (and reason to halt) when today's loss reached the limit; shared with the engine."""
    if limit_pct <= ZERO or day_start is None or equity is None or day_start <= ZERO:
        return None
    loss = day_start - equity
    if loss * HUNDRED >= day_start * limit_pct:
        return Rejection(
            CODE,
            f"The account lost {money(loss)} today ({loss * HUNDRED / day_start:.2f}% of "
            f"{money(day_start)}), reaching the daily loss limit of {amount(limit_pct)}%.",
        )
    return None


def check(intent: Intent, ctx: RiskContext) -> Rejection | None:
    if not intent.is_entry:
        return None
    return breached(ctx.account.day_start_equity, ctx.equity, ctx.limits.daily_loss_pct)
