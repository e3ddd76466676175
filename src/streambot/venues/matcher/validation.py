"""Checking a create-order request the way Coinbase does, before it touches the account.

A request that fails raises ``OrderRefused`` carrying Coinbase's ``error`` and
``preview_failure_reason`` codes, which the engine answers with (HTTP 200, ``success: false``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from streambot.domain import Product, slot_init
from streambot.venues.matcher.fees import MAX_PRICE, PRECISION
from streambot.venues.matcher.orders import (
    KNOWN_CONFIGURATIONS,
    LIMIT_GTC,
    MARKET_IOC,
    SIMULATED_CONFIGURATIONS,
    STOP_DOWN,
    STOP_LIMIT_GTC,
    STOP_UP,
    NewOrder,
    Refusal,
)


@slot_init
@dataclass(frozen=True, slots=True)
class ParsedOrder:
    product: Product
    side: str
    order_type: str
    configuration: dict[str, dict[str, Any]]
    base_size: Decimal | None
    quote_size: Decimal | None
    limit_price: Decimal | None
    post_only: bool
    stop_price: Decimal | None = None
    stop_direction: str | None = None


class OrderRefused(Exception):
    def __init__(self, error: str, message: str, preview: str) -> None:
        super().__init__(message)
        self.rejection = Refusal(error, message, preview)


def refuse(error: str, message: str, preview: str | None = None) -> OrderRefused:
    return OrderRefused(error, message, preview if preview is not None else f"PREVIEW_{error}")


def parse_decimal(value: Any, name: str) -> Decimal:
    if type(value) is str:  # what a request carries: parsed as the general case below parses it
        try:
            number = Decimal(value)
        except InvalidOperation:
            number = Decimal("NaN")
        if number.is_finite():
            return number
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise refuse("INVALID_REQUEST", f"{name} must be a decimal string", "PREVIEW_NON_NUMERIC_ORDER_SIZE")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise refuse(
            "INVALID_REQUEST", f"{name} is not a number: {value!r}", "PREVIEW_NON_NUMERIC_ORDER_SIZE"
        ) from None
    if not number.is_finite():
        raise refuse(
            "INVALID_REQUEST", f"{name} is not a number: {value!r}", "PREVIEW_NON_NUMERIC_ORDER_SIZE"
        )
    return number


def check_size(
    size: Decimal, kind: str, minimum: Decimal, maximum: Decimal, increment: Decimal, currency: str
) -> None:
    """Coinbase's order-size checks, in its order: too large, too precise, then too small (a tiny size
    is reported as a precision problem, not as smallness)."""
    upper = kind.upper()
    if size > maximum:
        raise refuse(
            "UNKNOWN_FAILURE_REASON",
            f"Order size too large: the maximum is {maximum:f} {currency}",
            f"PREVIEW_INVALID_{upper}_SIZE_TOO_LARGE",
        )
    if size > 0 and not on_increment(size, increment):
        raise refuse(
            "INVALID_SIZE_PRECISION",
            f"{kind}_size is too precise: the increment is {increment:f}",
            # Coinbase's documented reason for base sizes is the generic PREVIEW_INVALID_SIZE_PRECISION.
            "PREVIEW_INVALID_QUOTE_SIZE_PRECISION" if kind == "quote" else None,
        )
    if size <= 0 or size < minimum:
        raise refuse(
            "UNKNOWN_FAILURE_REASON",
            f"Order size too small: the minimum is {minimum:f} {currency}",
            f"PREVIEW_INVALID_{upper}_SIZE_TOO_SMALL",
        )


def on_increment(value: Decimal, increment: Decimal) -> bool:
    return increment <= 0 or value % increment == 0


def parse_new_order(request: NewOrder, products: Mapping[str, Product]) -> ParsedOrder:
    product = _tradeable(products, request.product_id)
    side = request.side
    _check_side(side)
    raw = request.order_configuration
    if (type(raw) is not dict and not isinstance(raw, Mapping)) or len(raw) != 1:
        raise refuse(
            "UNSUPPORTED_ORDER_CONFIGURATION",
            "order_configuration must hold exactly one order type",
            "PREVIEW_INVALID_ORDER_CONFIG",
        )
    kind, fields = next(iter(raw.items()))
    if kind not in SIMULATED_CONFIGURATIONS or (type(fields) is not dict and not isinstance(fields, Mapping)):
        detail = "is not simulated" if kind in KNOWN_CONFIGURATIONS else "is not an order configuration"
        raise refuse("UNSUPPORTED_ORDER_CONFIGURATION", f"{kind} {detail}", "PREVIEW_INVALID_ORDER_CONFIG")
    configuration = echo_configuration(raw)
    base_size = parse_decimal(fields["base_size"], "base_size") if fields.get("base_size") else None
    if kind == MARKET_IOC:
        quote_size = parse_decimal(fields["quote_size"], "quote_size") if fields.get("quote_size") else None
        _check_market_sizes(side, base_size, quote_size)
        parsed = ParsedOrder(product, side, "MARKET", configuration, base_size, quote_size, None, False)
    else:
        if base_size is None or not fields.get("limit_price"):
            raise refuse(
                "INVALID_REQUEST",
                "limit orders need base_size and limit_price",
                "PREVIEW_INVALID_ORDER_CONFIG",
            )
        limit_price = parse_decimal(fields["limit_price"], "limit_price")
        if kind == STOP_LIMIT_GTC:
            direction = fields.get("stop_direction")
            if not fields.get("stop_price") or direction not in (STOP_UP, STOP_DOWN):
                raise refuse(
                    "INVALID_REQUEST",
                    f"stop-limit orders need stop_price and stop_direction ({STOP_UP} or {STOP_DOWN})",
                    "PREVIEW_INVALID_ORDER_CONFIG",
                )
            stop_price = parse_decimal(fields["stop_price"], "stop_price")
            parsed = ParsedOrder(
                product,
                side,
                "STOP_LIMIT",
                configuration,
                base_size,
                None,
                limit_price,
                False,
                stop_price,
                str(direction),
            )
        else:
            post_only = fields.get("post_only") in (True, "true", "True")
            parsed = ParsedOrder(
                product, side, "LIMIT", configuration, base_size, None, limit_price, post_only
            )
    return _sizes_checked(parsed)


def typed_order(
    products: Mapping[str, Product],
    product_id: str,
    side: str,
    *,
    quote_size: Decimal | None,
    base_size: Decimal | None,
    limit_price: Decimal | None,
) -> ParsedOrder:
    """``parse_new_order`` for a request whose fields are already typed (an in-process venue):
    the same checks in the same order with the same refusals, without writing the sizes out
    as strings and parsing them back (``Decimal(str(d))`` is ``d``, digits and exponent alike).
    ``limit_price`` set: a limit GTC order (never post-only), else a market IOC order."""
    product = _tradeable(products, product_id)
    _check_side(side)
    configuration = typed_configuration(quote_size, base_size, limit_price)
    if base_size is not None:
        _finite(base_size, "base_size")
    if limit_price is None:
        if quote_size is not None:
            _finite(quote_size, "quote_size")
        _check_market_sizes(side, base_size, quote_size)
        parsed = ParsedOrder(product, side, "MARKET", configuration, base_size, quote_size, None, False)
    else:
        if base_size is None:
            raise refuse(
                "INVALID_REQUEST",
                "limit orders need base_size and limit_price",
                "PREVIEW_INVALID_ORDER_CONFIG",
            )
        _finite(limit_price, "limit_price")
        parsed = ParsedOrder(product, side, "LIMIT", configuration, base_size, None, limit_price, False)
    return _sizes_checked(parsed)


def _tradeable(products: Mapping[str, Product], product_id: object) -> Product:
    product = products.get(product_id) if isinstance(product_id, str) else None
    if product is None:
        raise refuse("INVALID_PRODUCT_ID", "Invalid product_id")
    if product.trading_disabled:
        raise refuse(
            "ORDER_ENTRY_DISABLED", "Trading is disabled for this product", "PREVIEW_TRADING_DISABLED"
        )
    return product


def _check_side(side: object) -> None:
    if side not in ("BUY", "SELL"):
        raise refuse("INVALID_SIDE", "Invalid side")


def _check_market_sizes(side: str, base_size: Decimal | None, quote_size: Decimal | None) -> None:
    if (base_size is None) == (quote_size is None):
        raise refuse(
            "INVALID_REQUEST",
            "market orders need exactly one of quote_size and base_size",
            "PREVIEW_INVALID_ORDER_CONFIG",
        )
    if quote_size is not None and side == "SELL":
        raise refuse(
            "UNSUPPORTED_ORDER_CONFIGURATION",
            "market sells are sized by base_size",
            "PREVIEW_INVALID_ORDER_CONFIG",
        )


def _sizes_checked(parsed: ParsedOrder) -> ParsedOrder:
    with localcontext() as context:
        context.prec = PRECISION
        try:
            check_sizes(parsed)
        except InvalidOperation:
            raise refuse(
                "INVALID_REQUEST", "order sizes are out of range", "PREVIEW_INVALID_ORDER_CONFIG"
            ) from None
    return parsed


def typed_configuration(
    quote_size: Decimal | None, base_size: Decimal | None, limit_price: Decimal | None
) -> dict[str, dict[str, Any]]:
    """The order_configuration a typed order would have been sent with, as Coinbase echoes it
    (the wire's strings: ``NewOrder.market`` and ``NewOrder.limit`` write the same)."""
    if limit_price is not None:
        return {LIMIT_GTC: {"base_size": str(base_size), "limit_price": str(limit_price), "post_only": False}}
    fields: dict[str, Any] = {}
    if quote_size is not None:
        fields["quote_size"] = str(quote_size)
    if base_size is not None:
        fields["base_size"] = str(base_size)
    return {MARKET_IOC: fields}


def _finite(value: Decimal, name: str) -> None:
    """``parse_decimal``'s refusal of a size that is no number, for a typed one."""
    if not value.is_finite():
        raise refuse(
            "INVALID_REQUEST", f"{name} is not a number: {str(value)!r}", "PREVIEW_NON_NUMERIC_ORDER_SIZE"
        )


def check_sizes(parsed: ParsedOrder) -> None:
    product = parsed.product
    if parsed.quote_size is not None:
        check_size(
            parsed.quote_size,
            "quote",
            product.quote_min_size,
            product.quote_max_size,
            product.quote_increment,
            product.quote_currency,
        )
    if parsed.base_size is not None:
        check_size(
            parsed.base_size,
            "base",
            product.base_min_size,
            product.base_max_size,
            product.base_increment,
            product.base_currency,
        )
    if parsed.limit_price is not None:
        price = parsed.limit_price
        if price <= 0:
            raise refuse("INVALID_LIMIT_PRICE", "limit_price must be positive")
        if price > MAX_PRICE:
            raise refuse("INVALID_LIMIT_PRICE", "limit_price is too large", "PREVIEW_INVALID_PRICE_TOO_LARGE")
        if not on_increment(price, product.quote_increment):
            raise refuse(
                "INVALID_PRICE_PRECISION",
                f"limit_price is too precise: the increment is {product.quote_increment}",
            )
        stop = parsed.stop_price
        if stop is not None and (stop <= 0 or not on_increment(stop, product.quote_increment)):
            raise refuse(
                "INVALID_PRICE_PRECISION",
                f"stop_price must be positive and on the increment {product.quote_increment}",
                "PREVIEW_INVALID_STOP_PRICE",
            )
        assert parsed.base_size is not None
        if parsed.base_size * price < product.quote_min_size:
            raise refuse(
                "UNKNOWN_FAILURE_REASON",
                f"Order size too small: the minimum is {product.quote_min_size} {product.quote_currency}",
                "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
            )


_PLAIN = frozenset({str, bool, int, float})  # JSON-safe as they are (subclasses: the isinstance check)


def echo_configuration(raw: Any) -> dict[str, dict[str, Any]]:
    """The order_configuration as Coinbase echoes it: known fields only, JSON-safe."""
    if not isinstance(raw, Mapping):
        return {}
    echoed: dict[str, dict[str, Any]] = {}
    for kind, fields in raw.items():
        if not isinstance(kind, str):
            continue
        if not isinstance(fields, Mapping):
            echoed[kind] = {}
            continue
        echoed[kind] = {
            str(key): value
            for key, value in fields.items()
            if type(value) in _PLAIN or isinstance(value, str | bool | int | float) or value is None
        }
    return echoed
