"""Max drawdown: the account's equity may not fall more than the limit below its highest value."""

from __future__ import annotations

from decimal import Decimal

from streambot.risk.base import Intent, RiskContext, RiskRejection, amount, fall_beyond, money

CODE = "MAX_DRAWDOWN"


def breached(peak: Decimal | None, equity: Decimal | None, limit_pct: Decimal) -> RiskRejection | None:
    """The rejection (and reason to halt) when equity fell the limit below its peak."""
    down = fall_beyond(peak, equity, limit_pct)
    if down is None:
        return None
    return RiskRejection(
        CODE,
        f"The account is {money(down.amount)} ({down.pct:.2f}%) below its peak of "
        f"{money(down.reference)}, reaching the maximum drawdown of {amount(limit_pct)}%.",
    )


def check(intent: Intent, ctx: RiskContext) -> RiskRejection | None:
    if not intent.is_entry:
        return None
    return breached(ctx.account.equity_peak, ctx.equity, ctx.limits.max_drawdown_pct)
