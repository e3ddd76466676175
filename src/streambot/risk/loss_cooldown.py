"""Cooldown after a loss: a bot that just sold at a loss waits before it buys again."""

from __future__ import annotations

from streambot.risk.base import Intent, RiskContext, RiskRejection

CODE = "LOSS_COOLDOWN"


def check(intent: Intent, ctx: RiskContext) -> RiskRejection | None:
    last = ctx.bot.last_loss_at
    cooldown = ctx.limits.loss_cooldown_s
    if not intent.is_entry or last is None or cooldown <= 0:
        return None
    waited = ctx.now - last.timestamp()
    if waited < cooldown:
        return RiskRejection(
            CODE,
            f"This bot closed a trade at a loss {waited:.0f}s ago; it waits {cooldown:g}s after a loss "
            "before buying again.",
        )
    return None
