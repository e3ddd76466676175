"""HALTED: after a breached limit no entries until a person resumes; exits only if configured."""

from __future__ import annotations

from streambot.risk.base import Intent, RiskContext, RiskRejection

CODE = "HALTED"


def check(intent: Intent, ctx: RiskContext) -> RiskRejection | None:
    if intent.is_entry or not ctx.limits.halt_allows_exits:
        what = "new positions are" if intent.is_entry else "orders are"
        if ctx.account.halted:
            return RiskRejection(
                CODE,
                f"The account is halted ({ctx.account.halt_reason or ctx.account.halt_code}); "
                f"{what} refused until it is resumed through the API.",
            )
        if ctx.bot.halted:
            return RiskRejection(
                CODE,
                f"This bot is halted ({ctx.bot.halt_reason or ctx.bot.halt_code}); "
                f"{what} refused until it is resumed through the API.",
            )
    return None
