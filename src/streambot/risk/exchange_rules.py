"""The product's trading rules: increments, minimum and maximum sizes, balance and position.

Sizing already rounded the order down onto the increments; this rule is the last word, so that
an order the exchange would refuse (or one that spends more than there is) never leaves.
"""

from __future__ import annotations

from decimal import Decimal

from streambot.risk.base import ZERO, Intent, Rejection, RiskContext, amount

DISABLED = "TRADING_DISABLED"
UNKNOWN_PRODUCT = "UNKNOWN_PRODUCT"
INCREMENT = "INVALID_INCREMENT"
BELOW_MINIMUM = "BELOW_MINIMUM"
ABOVE_MAXIMUM = "ABOVE_MAXIMUM"
INSUFFICIENT_BALANCE = "INSUFFICIENT_BALANCE"
ABOVE_POSITION = "ABOVE_POSITION"


def on_increment(value: Decimal, increment: Decimal) -> bool:
    return increment <= ZERO or value % increment == ZERO


def check(intent: Intent, ctx: RiskContext) -> Rejection | None:
    product = ctx.product
    if product is None:
        return Rejection(UNKNOWN_PRODUCT, f"No trading rules are known for {intent.product_id}.")
    if product.trading_disabled:
        return Rejection(DISABLED, f"Trading is disabled on {product.product_id} at the exchange.")
    if intent.limit_price is not None and not on_increment(intent.limit_price, product.quote_increment):
        return Rejection(
            INCREMENT,
            f"The limit price {amount(intent.limit_price)} is not a multiple of "
            f"{amount(product.quote_increment)}.",
        )
    if intent.quote_size is not None:
        quote = intent.quote_size
        if quote <= ZERO or not on_increment(quote, product.quote_increment):
            return Rejection(
                INCREMENT,
                f"The order size {amount(quote)} {product.quote_currency} is not a positive multiple "
                f"of {amount(product.quote_increment)}.",
            )
        if quote < product.quote_min_size:
            return Rejection(
                BELOW_MINIMUM,
                f"{amount(quote)} {product.quote_currency} is below the minimum order of "
                f"{amount(product.quote_min_size)} {product.quote_currency}.",
            )
        if product.quote_max_size > ZERO and quote > product.quote_max_size:
            return Rejection(
                ABOVE_MAXIMUM,
                f"{amount(quote)} {product.quote_currency} is above the maximum order of "
                f"{amount(product.quote_max_size)} {product.quote_currency}.",
            )
    if intent.base_size is not None:
        base = intent.base_size
        if base <= ZERO or not on_increment(base, product.base_increment):
            return Rejection(
                INCREMENT,
                f"The order size {amount(base)} {product.base_currency} is not a positive multiple of "
                f"{amount(product.base_increment)}.",
            )
        if base < product.base_min_size:
            return Rejection(
                BELOW_MINIMUM,
                f"{amount(base)} {product.base_currency} is below the minimum order of "
                f"{amount(product.base_min_size)} {product.base_currency}.",
            )
        if product.base_max_size > ZERO and base > product.base_max_size:
            return Rejection(
                ABOVE_MAXIMUM,
                f"{amount(base)} {product.base_currency} is above the maximum order of "
                f"{amount(product.base_max_size)} {product.base_currency}.",
            )
    if intent.quote_size is None and intent.base_size is None:
        return Rejection(BELOW_MINIMUM, "The order has no size.")
    if intent.is_entry:
        if ctx.available_quote is not None and intent.notional > ctx.available_quote:
            return Rejection(
                INSUFFICIENT_BALANCE,
                f"Buying {amount(intent.notional)} {product.quote_currency} needs more than the "
                f"{amount(ctx.available_quote)} {product.quote_currency} available.",
            )
        return None
    sellable = ctx.position.base - ctx.open_sell_base
    if (intent.base_size or ZERO) > sellable:
        return Rejection(
            ABOVE_POSITION,
            f"Selling {amount(intent.base_size or ZERO)} {product.base_currency} is more than this "
            f"bot holds ({amount(sellable)} {product.base_currency} not already being sold).",
        )
    return None
