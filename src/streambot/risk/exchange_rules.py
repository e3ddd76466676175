"""The product's trading rules: increments, minimum and maximum sizes, balance and position.

Sizing already rounded the order down onto the increments; this rule is the last word, so that
an order the exchange would refuse (or one that spends more than there is) never leaves.
"""

from __future__ import annotations

from decimal import Decimal

from streambot.risk.base import ZERO, Intent, RiskContext, RiskRejection, amount

DISABLED = "TRADING_DISABLED"
UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
INCREMENT = "INVALID_INCREMENT"
BELOW_MINIMUM = "BELOW_MINIMUM"
ABOVE_MAXIMUM = "ABOVE_MAXIMUM"
INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
ABOVE_POSITION = "ABOVE_POSITION"
INVALID_PRICE = "INVALID_PRICE"


def on_increment(value: Decimal, increment: Decimal) -> bool:
    return increment <= ZERO or value % increment == ZERO


def _size_rejection(
    size: Decimal, currency: str, increment: Decimal, minimum: Decimal, maximum: Decimal
) -> RiskRejection | None:
    """One size (quote or base) against its increment and the exchange's minimum and maximum."""
    if size <= ZERO or not on_increment(size, increment):
        return RiskRejection(
            INCREMENT,
            f"The order size {amount(size)} {currency} is not a positive multiple of {amount(increment)}.",
        )
    if size < minimum:
        return RiskRejection(
            BELOW_MINIMUM,
            f"{amount(size)} {currency} is below the minimum order of {amount(minimum)} {currency}.",
        )
    if maximum > ZERO and size > maximum:
        return RiskRejection(
            ABOVE_MAXIMUM,
            f"{amount(size)} {currency} is above the maximum order of {amount(maximum)} {currency}.",
        )
    return None


def check(intent: Intent, ctx: RiskContext) -> RiskRejection | None:
    product = ctx.product
    if product is None:
        return RiskRejection(UNKNOWN_PRODUCT, f"No trading rules are known for {intent.product_id}.")
    if product.trading_disabled:
        return RiskRejection(DISABLED, f"Trading is disabled on {product.product_id} at the exchange.")
    if intent.limit_price is not None and not on_increment(intent.limit_price, product.quote_increment):
        return RiskRejection(
            INCREMENT,
            f"The limit price {amount(intent.limit_price)} is not a multiple of "
            f"{amount(product.quote_increment)}.",
        )
    for size, currency, increment, minimum, maximum in (
        (
            intent.quote_size,
            product.quote_currency,
            product.quote_increment,
            product.quote_min_size,
            product.quote_max_size,
        ),
        (
            intent.base_size,
            product.base_currency,
            product.base_increment,
            product.base_min_size,
            product.base_max_size,
        ),
    ):
        if size is not None:
            rejection = _size_rejection(size, currency, increment, minimum, maximum)
            if rejection is not None:
                return rejection
    if intent.quote_size is None and intent.base_size is None:
        return RiskRejection(BELOW_MINIMUM, "The order has no size.")
    if intent.is_entry:
        if ctx.available_quote is not None and intent.notional > ctx.available_quote:
            return RiskRejection(
                INSUFFICIENT_BALANCE,
                f"Buying {amount(intent.notional)} {product.quote_currency} needs more than the "
                f"{amount(ctx.available_quote)} {product.quote_currency} available.",
            )
        return None
    sellable = ctx.position.base - ctx.open_sell_base
    if (intent.base_size or ZERO) > sellable:
        return RiskRejection(
            ABOVE_POSITION,
            f"Selling {amount(intent.base_size or ZERO)} {product.base_currency} is more than this "
            f"bot holds ({amount(sellable)} {product.base_currency} not already being sold).",
        )
    return None
