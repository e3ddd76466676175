"""Per-bot budget: what is held (at cost) plus open buys plus this buy stays within the budget."""

from __future__ import annotations

from streambot.risk.base import ZERO, Intent, RiskContext, RiskRejection, money

CODE = "BUDGET_EXCEEDED"


def check(intent: Intent, ctx: RiskContext) -> RiskRejection | None:
    if not intent.is_entry:
        return None
    committed = ctx.position.cost + ctx.open_buy_notional
    if committed + intent.notional > ctx.budget:
        left = max(ctx.budget - committed, ZERO)
        return RiskRejection(
            CODE,
            f"Buying {money(intent.notional)} is more than the {money(left)} left of this bot's "
            f"budget of {money(ctx.budget)}.",
        )
    return None
