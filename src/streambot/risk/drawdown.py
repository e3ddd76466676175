"""Max drawdown: the account's equity may not fall more than the limit below its highest value."""

from __future__ import annotations

from decimal import Decimal

from streambot.risk.base import HUNDRED, ZERO, Intent, Rejection, RiskContext, amount, money

CODE = "MAX_DRAWDOWN"


def breached(peak: Decimal | None, equity: Decimal | None, limit_pct: Decimal) -> Rejection | None:
    if limit_pct <= ZERO or peak is None or equity is None or peak <= ZERO:
        return None
    down = peak - equity
    if down * HUNDRED >= peak * limit_pct:
        return Rejection(
            CODE,
            f"The account is {money(down)} ({down * HUNDRED / peak:.2f}%) below its peak of "
            f"{money(peak)}, reaching the maximum drawdown of {amount(limit_pct)}%.",
        )
    return None


def check(intent: Intent, ctx: RiskContext) -> Rejection | None:
    if not intent.is_entry:
        return None
    return breached(ctx.account.equity_peak, ctx.equity, ctx.limits.max_drawdown_pct)
