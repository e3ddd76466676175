"""Positions and P&L from positions (the sum of fills) and the latest prices."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from streambot.domain import Balance, BotId, Position, ProductId, Ticker, to_decimal
from streambot.trading.balances import AccountBalances
from streambot.trading.protocols import BotDirectory

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
        held = balance.total
        if not held:
            continue
        if balance.currency == quote:
            total += held
            continue
        price = prices.get(f"{balance.currency}-{quote}")
        if price is not None:
            total += held * price
    return total


class AccountFigures:
    """The account's equity and every bot's P&L now: what the API shows and the equity watcher
    feeds the risk limits with."""

    def __init__(
        self,
        *,
        bots: BotDirectory,
        balances: AccountBalances,
        latest: Mapping[ProductId, Ticker],
        products: Collection[str],
    ) -> None:
        self._bots = bots
        self._balances = balances
        self._latest = latest  # the latest ticker per product, a live view
        self._products = products

    async def account_equity(self) -> Decimal | None:
        """The account's worth at the latest prices; None until every traded holding has a price."""
        balances = await self._balances.balances()
        prices = latest_prices(self._latest)
        for balance in balances.values():
            product = f"{balance.currency}-USD"
            if balance.total and product in self._products and product not in prices:
                return None
        return account_equity(balances.values(), prices)

    async def bots_pnl(self) -> list[BotPnl]:
        prices = latest_prices(self._latest)
        return [
            bot_pnl(
                record.id,
                record.name,
                record.product_id,
                record.budget,
                self._bots.position(record.id),
                prices.get(record.product_id),
            )
            for record in await self._bots.list()
        ]
