"""Positions and P&L from positions (the sum of fills) and the latest prices."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from streambot.domain import Balance, BotId, Position, ProductId, Ticker, to_decimal

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class BotPnl:
    bot_id: BotId
    name: str
    product_id: ProductId
    budget: Decimal
    base: Decimal
    cost: Decimal  # quote paid for what is held, fees included
    average_entry: Decimal
    price: Decimal | None  # latest market price, None before the first tick
    market_value: Decimal
    realized: Decimal
    unrealized: Decimal

    @property
    def total(self) -> Decimal:
        return self.realized + self.unrealized

    @property
    def equity(self) -> Decimal:
        """What the bot's budget is worth now."""
        return self.budget + self.total


def bot_pnl(
    bot_id: BotId,
    name: str,
    product_id: ProductId,
    budget: Decimal,
    position: Position,
    price: Decimal | None,
) -> BotPnl:
    value = position.base * price if price is not None else position.cost
    unrealized = value - position.cost if position.base else _ZERO
    return BotPnl(
        bot_id=bot_id,
        name=name,
        product_id=product_id,
        budget=budget,
        base=position.base,
        cost=position.cost,
        average_entry=position.average_entry,
        price=price,
        market_value=value,
        realized=position.realized_pnl,
        unrealized=unrealized,
    )


def pnl_totals(bots: Iterable[BotPnl]) -> tuple[Decimal, Decimal]:
    """Realised and unrealised P&L summed over the bots."""
    realized = unrealized = _ZERO
    for bot in bots:
        realized += bot.realized
        unrealized += bot.unrealized
    return realized, unrealized


def latest_prices(latest: Mapping[ProductId, Ticker]) -> dict[ProductId, Decimal]:
    return {product: to_decimal(tick.price) for product, tick in latest.items()}


def account_equity(
    balances: Iterable[Balance], prices: Mapping[ProductId, Decimal], quote: str = "USD"
) -> Decimal:
    """Everything held valued in ``quote`` at the latest prices; currencies without a price are left out."""
    total = _ZERO
    for balance in balances:
        held = balance.available + balance.hold
        if not held:
            continue
        if balance.currency == quote:
            total += held
            continue
        price = prices.get(f"{balance.currency}-{quote}")
        if price is not None:
            total += held * price
    return total
