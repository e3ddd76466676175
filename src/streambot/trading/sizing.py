"""A strategy's signal turned into an order on the product's increments, with ``Decimal``.

Buys never above what is left of the budget (after what is held and what is already being bought)
nor above the available balance; sells never above the position not already being sold; amounts
are rounded down, never up, so an order never spends more than it was allowed.
"""

from __future__ import annotations

from decimal import Decimal

from streambot.domain import BotId, Position, Product, Side, Signal, round_down
from streambot.risk import exchange_rules
from streambot.risk.base import HUNDRED, ZERO, Intent, RiskRejection, amount


def size_intent(
    *,
    bot_id: BotId,
    signal: Signal,
    product: Product,
    price: Decimal,
    budget: Decimal,
    position: Position,
    open_buy_notional: Decimal = ZERO,
    open_sell_base: Decimal = ZERO,
    available_quote: Decimal | None = None,
) -> Intent | RiskRejection:
    # The feed drops such tickers; this holds for any other way a price arrives (defence in depth).
    if not price.is_finite() or price <= ZERO:
        return RiskRejection(
            exchange_rules.INVALID_PRICE, f"The price {price} is not a positive number; no order on it."
        )
    limit = round_down(signal.limit_price, product.quote_increment) if signal.limit_price else None
    if limit is not None and limit <= ZERO:
        return RiskRejection(
            exchange_rules.INCREMENT,
            f"The limit price {amount(signal.limit_price or ZERO)} is below the price increment "
            f"{amount(product.quote_increment)}.",
        )
    if signal.side is Side.BUY:
        remaining = budget - position.cost - open_buy_notional
        if signal.quote_size is not None:
            quote = signal.quote_size
        elif signal.base_size is not None:
            quote = signal.base_size * (limit or price)
        else:
            quote = budget * (signal.budget_pct or HUNDRED) / HUNDRED
        quote = min(quote, remaining)
        if available_quote is not None:
            quote = min(quote, available_quote)
        quote = round_down(quote, product.quote_increment)
        if quote < product.quote_min_size or quote <= ZERO:
            why = (
                f"budget left {amount(max(remaining, ZERO))} {product.quote_currency}"
                if available_quote is None or remaining <= available_quote
                else f"available balance {amount(available_quote)} {product.quote_currency}"
            )
            return RiskRejection(
                exchange_rules.BELOW_MINIMUM,
                f"A buy of {amount(max(quote, ZERO))} {product.quote_currency} is below the minimum "
                f"{amount(product.quote_min_size)} ({why}).",
            )
        if limit is not None:
            base = round_down(quote / limit, product.base_increment)
            if base < product.base_min_size or base <= ZERO:
                return RiskRejection(
                    exchange_rules.BELOW_MINIMUM,
                    f"A buy of {amount(quote)} {product.quote_currency} at {amount(limit)} is "
                    f"{amount(max(base, ZERO))} {product.base_currency}, below the minimum "
                    f"{amount(product.base_min_size)}.",
                )
            return Intent(bot_id, product.product_id, Side.BUY, price, base_size=base, limit_price=limit)
        return Intent(bot_id, product.product_id, Side.BUY, price, quote_size=quote)
    held = position.base - open_sell_base
    if signal.base_size is not None:
        base = min(signal.base_size, held)
    else:
        base = held * (signal.budget_pct or HUNDRED) / HUNDRED
    base = round_down(base, product.base_increment)
    if base < product.base_min_size or base <= ZERO:
        return RiskRejection(
            exchange_rules.BELOW_MINIMUM,
            f"A sell of {amount(max(base, ZERO))} {product.base_currency} is below the minimum "
            f"{amount(product.base_min_size)} (position {amount(position.base)}).",
        )
    return Intent(bot_id, product.product_id, Side.SELL, price, base_size=base, limit_price=limit)
