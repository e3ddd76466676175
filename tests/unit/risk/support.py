"""Building blocks for risk tests: a product, intents, contexts and an in-memory risk store."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from streambot.domain import BotId, Position, Product, Side
from streambot.risk.base import Intent, RiskContext, RiskLimits
from streambot.risk.state import ScopeState

BTC = Product(
    product_id="BTC-USD",
    base_currency="BTC",
    quote_currency="USD",
    base_increment=Decimal("0.00000001"),
    quote_increment=Decimal("0.01"),
    base_min_size=Decimal("0.00001"),
    base_max_size=Decimal("1000"),
    quote_min_size=Decimal("1"),
    quote_max_size=Decimal("1000000"),
)
NOW = 1_800_000_000.0
BOT = BotId(1)


def buy(quote: str = "100", price: str = "50000") -> Intent:
    return Intent(BOT, "BTC-USD", Side.BUY, Decimal(price), quote_size=Decimal(quote))


def sell(base: str = "0.001", price: str = "50000") -> Intent:
    return Intent(BOT, "BTC-USD", Side.SELL, Decimal(price), base_size=Decimal(base))


def context(**changes: Any) -> RiskContext:
    ctx = RiskContext(
        limits=RiskLimits(),
        now=NOW,
        product=BTC,
        budget=Decimal(1000),
        position=Position(),
        available_quote=Decimal(10_000),
        price_time=NOW - 1,
        feed_state="live",
        account=ScopeState(),
        bot=ScopeState(bot_id=BOT),
    )
    limits = changes.pop("limits", None)
    if limits:
        ctx.limits = replace(ctx.limits, **limits)
    for name, value in changes.items():
        setattr(ctx, name, value)
    return ctx


class MemoryRiskStore:
    """The risk engine's store as a dict: what a restart would read back."""

    def __init__(self) -> None:
        self.rows: dict[str, ScopeState] = {}

    async def load_risk_states(self) -> list[ScopeState]:
        return [replace(s) for s in self.rows.values()]

    async def save_risk_state(self, state: ScopeState) -> None:
        self.rows[state.key] = replace(state)
