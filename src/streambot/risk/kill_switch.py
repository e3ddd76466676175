"""Kill switch: while on (for the account or the bot) no order at all goes out, exits included."""

from __future__ import annotations

from streambot.risk.base import Intent, RiskContext, RiskRejection

CODE = "KILL_SWITCH"


def check(intent: Intent, ctx: RiskContext) -> RiskRejection | None:
    if ctx.account.kill_switch:
        why = f" ({ctx.account.kill_reason})" if ctx.account.kill_reason else ""
        return RiskRejection(
            CODE, f"The global kill switch is on{why}; no orders are sent until it is turned off."
        )
    if ctx.bot.kill_switch:
        why = f" ({ctx.bot.kill_reason})" if ctx.bot.kill_reason else ""
        return RiskRejection(
            CODE, f"This bot's kill switch is on{why}; it sends no orders until it is turned off."
        )
    return None
