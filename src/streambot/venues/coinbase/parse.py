"""Coinbase REST bodies → domain types, and domain requests → Coinbase bodies. Pure: no I/O.

The only place that maps Coinbase's vocabulary (order statuses, candle granularities, order
configurations, error bodies) onto the platform's own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import msgspec

from streambot.domain import (
    Balance,
    BestBidAsk,
    Candle,
    ClientOrderId,
    ExchangeOrder,
    ExchangeOrderStatus,
    FeeSource,
    FeeTier,
    Fill,
    OrderRequest,
    PlacedOrder,
    Product,
    Side,
    Timeframe,
)
from streambot.exchange import ExchangeError
from streambot.venues.coinbase.rest_messages import (
    GRANULARITY_SECONDS,
    RestAccount,
    RestAccountsPage,
    RestCancelResults,
    RestCandles,
    RestCreateOrderResponse,
    RestErrorBody,
    RestFill,
    RestFillsPage,
    RestOrder,
    RestOrderCreated,
    RestOrderEnvelope,
    RestOrderRefused,
    RestOrdersPage,
    RestPricebook,
    RestPricebooks,
    RestProduct,
    RestProducts,
    RestTransactionSummary,
)

ERROR_SNIPPET: Final = 200
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

GRANULARITY: Final[dict[Timeframe, str]] = {
    Timeframe.ONE_MINUTE: "ONE_MINUTE",
    Timeframe.FIVE_MINUTES: "FIVE_MINUTE",
    Timeframe.FIFTEEN_MINUTES: "FIFTEEN_MINUTE",
    Timeframe.THIRTY_MINUTES: "THIRTY_MINUTE",
    Timeframe.ONE_HOUR: "ONE_HOUR",
    Timeframe.TWO_HOURS: "TWO_HOUR",
    Timeframe.SIX_HOURS: "SIX_HOUR",
    Timeframe.ONE_DAY: "ONE_DAY",
}
"""The candles endpoint's ``granularity`` for each timeframe."""
assert all(GRANULARITY_SECONDS[name] == timeframe.seconds for timeframe, name in GRANULARITY.items())

ORDER_STATUS: Final[dict[str, ExchangeOrderStatus]] = {
    "PENDING": ExchangeOrderStatus.PENDING,
    "QUEUED": ExchangeOrderStatus.PENDING,
    "OPEN": ExchangeOrderStatus.OPEN,
    "EDIT_QUEUED": ExchangeOrderStatus.OPEN,  # still working while the edit is applied
    "CANCEL_QUEUED": ExchangeOrderStatus.CANCEL_PENDING,
    "FILLED": ExchangeOrderStatus.FILLED,
    "CANCELLED": ExchangeOrderStatus.CANCELLED,
    "EXPIRED": ExchangeOrderStatus.EXPIRED,
    "FAILED": ExchangeOrderStatus.FAILED,
    "UNKNOWN_ORDER_STATUS": ExchangeOrderStatus.UNKNOWN,
}
"""Coinbase's order ``status`` → the domain's; anything else reads as UNKNOWN."""

STATUS_FILTER: Final[dict[ExchangeOrderStatus, str]] = {
    ExchangeOrderStatus.PENDING: "PENDING",
    ExchangeOrderStatus.OPEN: "OPEN",
    ExchangeOrderStatus.CANCEL_PENDING: "CANCEL_QUEUED",
    ExchangeOrderStatus.FILLED: "FILLED",
    ExchangeOrderStatus.CANCELLED: "CANCELLED",
    ExchangeOrderStatus.EXPIRED: "EXPIRED",
    ExchangeOrderStatus.FAILED: "FAILED",
    ExchangeOrderStatus.UNKNOWN: "UNKNOWN_ORDER_STATUS",
}
"""The List Orders ``order_status`` filter value for each domain status."""


_T = TypeVar("_T")


def granularity(timeframe: Timeframe) -> str:
    return GRANULARITY[timeframe]


def order_status(text: str) -> ExchangeOrderStatus:
    return ORDER_STATUS.get(text, ExchangeOrderStatus.UNKNOWN)


def _decode(body: bytes, type_: type[_T], what: str) -> _T:
    """Decode a response body into a wire Struct; a shape we cannot read is an ExchangeError."""
    try:
        return msgspec.json.decode(body, type=type_)
    except msgspec.DecodeError as exc:
        raise ExchangeError(f"unreadable {what} response: {exc}", code="BAD_RESPONSE") from None


def _to_decimal(text: str | None, what: str = "value") -> Decimal:
    """Coinbase's decimal strings; ``""`` (no value) reads as zero."""
    if not text:
        return Decimal(0)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ExchangeError(f"{what} {text!r} is not a number", code="BAD_RESPONSE") from None
    if not value.is_finite():
        raise ExchangeError(f"{what} {text!r} is not a finite number", code="BAD_RESPONSE")
    return value


def _to_datetime(text: str | None) -> datetime | None:
    """RFC 3339 with up to 9 fraction digits; None for null/empty."""
    if not text:
        return None
    try:
        return msgspec.convert(text, datetime)
    except msgspec.ValidationError:
        raise ExchangeError(f"timestamp {text!r} is not RFC 3339", code="BAD_RESPONSE") from None


def _to_side(text: str) -> Side:
    try:
        return Side(text.upper())
    except ValueError:
        raise ExchangeError(f"unknown order side {text!r}", code="BAD_RESPONSE") from None


def _product_from_wire(p: RestProduct) -> Product:
    base, _, quote = p.product_id.partition("-")
    return Product(
        product_id=p.product_id,
        base_currency=p.base_currency_id or base,
        quote_currency=p.quote_currency_id or quote,
        base_increment=_to_decimal(p.base_increment, "base_increment"),
        quote_increment=_to_decimal(p.quote_increment, "quote_increment"),
        base_min_size=_to_decimal(p.base_min_size, "base_min_size"),
        base_max_size=_to_decimal(p.base_max_size, "base_max_size"),
        quote_min_size=_to_decimal(p.quote_min_size, "quote_min_size"),
        quote_max_size=_to_decimal(p.quote_max_size, "quote_max_size"),
        trading_disabled=(
            p.trading_disabled or p.is_disabled or p.cancel_only or p.status not in ("", "online")
        ),
    )


def _order_from_wire(o: RestOrder) -> ExchangeOrder:
    return ExchangeOrder(
        order_id=o.order_id,
        client_order_id=ClientOrderId(o.client_order_id),
        product_id=o.product_id,
        side=_to_side(o.side),
        status=order_status(o.status),
        filled_size=_to_decimal(o.filled_size, "filled_size"),
        average_filled_price=_to_decimal(o.average_filled_price, "average_filled_price"),
        filled_value=_to_decimal(o.filled_value, "filled_value"),
        total_fees=_to_decimal(o.total_fees, "total_fees"),
        created_time=_to_datetime(o.created_time),
    )


def _fill_from_wire(f: RestFill) -> Fill:
    price = _to_decimal(f.price, "fill price")
    size = _to_decimal(f.size, "fill size")
    if f.size_in_quote and price:
        # Fill.size is in base currency everywhere in the platform.
        size = size / price
    trade_time = _to_datetime(f.trade_time)
    if trade_time is None:
        raise ExchangeError(f"fill {f.trade_id or f.entry_id} has no trade_time", code="BAD_RESPONSE")
    return Fill(
        trade_id=f.trade_id or f.entry_id,
        order_id=f.order_id,
        product_id=f.product_id,
        side=_to_side(f.side),
        price=price,
        size=size,
        commission=_to_decimal(f.commission, "commission"),
        trade_time=trade_time,
    )


def _best_bid_ask_from_wire(book: RestPricebook) -> BestBidAsk:
    return BestBidAsk(
        product_id=book.product_id,
        bid=_to_decimal(book.bids[0].price, "bid") if book.bids else Decimal(0),
        ask=_to_decimal(book.asks[0].price, "ask") if book.asks else Decimal(0),
        time=_to_datetime(book.time) or _EPOCH,
    )


def _balance_from_wire(account: RestAccount) -> Balance:
    return Balance(
        currency=account.currency,
        available=_to_decimal(account.available_balance.value, "available_balance"),
        hold=_to_decimal(account.hold.value, "hold"),
    )


def _placed_from_wire(created: RestCreateOrderResponse, client_order_id: ClientOrderId) -> PlacedOrder:
    if created.success:
        ok = created.success_response or RestOrderCreated()
        order_id = ok.order_id or created.order_id
        return PlacedOrder(True, order_id, ClientOrderId(ok.client_order_id or client_order_id))
    err = created.error_response or RestOrderRefused()
    reason = err.error or created.failure_reason or "UNKNOWN_FAILURE_REASON"
    message = err.message or err.error_details or err.new_order_failure_reason or err.preview_failure_reason
    return PlacedOrder(False, "", client_order_id, error=reason, message=message)


# --- response bodies → domain (pure; the client and the tests use these) ------------------------


def parse_products(body: bytes) -> list[Product]:
    """``GET /products``: ``{"products": [...], "num_products": n}``."""
    return [_product_from_wire(p) for p in _decode(body, RestProducts, "products").products]


def parse_best_bid_ask(body: bytes) -> list[BestBidAsk]:
    return [_best_bid_ask_from_wire(b) for b in _decode(body, RestPricebooks, "best_bid_ask").pricebooks]


def parse_accounts(body: bytes) -> tuple[list[Balance], str]:
    """One page of accounts and the cursor of the next page ("" when this was the last)."""
    page = _decode(body, RestAccountsPage, "accounts")
    return [_balance_from_wire(a) for a in page.accounts], page.cursor if page.has_next else ""


def parse_transaction_summary(body: bytes) -> FeeTier:
    """``GET /transaction_summary``: the account's fee tier (rates as fractions, 0.012 is 1.2 %)."""
    tier = _decode(body, RestTransactionSummary, "transaction summary").fee_tier
    maker = _to_decimal(tier.maker_fee_rate, "maker_fee_rate")
    taker = _to_decimal(tier.taker_fee_rate, "taker_fee_rate")
    if not (0 <= maker < 1 and 0 <= taker < 1) or not (tier.maker_fee_rate and tier.taker_fee_rate):
        raise ExchangeError(
            f"fee tier rates {tier.maker_fee_rate!r}/{tier.taker_fee_rate!r} are not fractions below 1",
            code="BAD_RESPONSE",
        )
    return FeeTier(maker_fee_rate=maker, taker_fee_rate=taker, source=FeeSource.EXCHANGE)


def parse_candles(body: bytes, seconds: int) -> list[Candle]:
    """``GET /products/{id}/candles`` (newest first on the wire) as Candles, oldest first."""
    out: list[Candle] = []
    for c in _decode(body, RestCandles, "candles").candles:
        try:
            start = int(c.start)
        except ValueError:
            raise ExchangeError(
                f"candle start {c.start!r} is not UNIX seconds", code="BAD_RESPONSE"
            ) from None
        out.append(
            Candle(
                start=start,
                seconds=seconds,
                open=float(_to_decimal(c.open, "candle open")),
                high=float(_to_decimal(c.high, "candle high")),
                low=float(_to_decimal(c.low, "candle low")),
                close=float(_to_decimal(c.close, "candle close")),
                volume=float(_to_decimal(c.volume, "candle volume")),
            )
        )
    out.sort(key=lambda candle: candle.start)
    return out


def parse_create_order(body: bytes, client_order_id: ClientOrderId) -> PlacedOrder:
    return _placed_from_wire(_decode(body, RestCreateOrderResponse, "create order"), client_order_id)


def parse_order(body: bytes) -> ExchangeOrder:
    return _order_from_wire(_decode(body, RestOrderEnvelope, "get order").order)


def parse_orders(body: bytes) -> tuple[list[ExchangeOrder], str]:
    """One page of List Orders and the cursor of the next page ("" when this was the last)."""
    page = _decode(body, RestOrdersPage, "list orders")
    return [_order_from_wire(o) for o in page.orders], page.cursor if page.has_next else ""


def parse_fills(body: bytes) -> tuple[list[Fill], str]:
    """One page of List Fills and the next cursor (List Fills has no has_next: "" ends it).

    A fill flagged ``size_in_quote`` carries its size in quote currency (ccxt reads Coinbase so, and
    a captured fill's commission is exactly the fee rate times its size); it is converted to base.
    """
    page = _decode(body, RestFillsPage, "list fills")
    return [_fill_from_wire(f) for f in page.fills], page.cursor


def parse_cancel_results(body: bytes) -> dict[str, bool]:
    """order id → cancelled? (failures such as UNKNOWN_CANCEL_ORDER read as False)."""
    return {r.order_id: r.success for r in _decode(body, RestCancelResults, "cancel orders").results}


def error_from_response(status: int, body: bytes, what: str) -> ExchangeError:
    """An HTTP error as ExchangeError: the status, the body's error code, a one-line message."""
    code = ""
    try:
        err = msgspec.json.decode(body, type=RestErrorBody)
    except msgspec.DecodeError:
        # Coinbase has answered POST /orders with an HTML page; keep a short, single-line piece.
        text = " ".join(body[:ERROR_SNIPPET].decode("utf-8", "replace").split())
    else:
        code = err.error or (err.errors[0].id if err.errors else "")
        if err.errors:
            text = "; ".join(f"{e.id}: {e.message}" for e in err.errors)
        else:
            text = err.message or err.error_details or err.error
    return ExchangeError(f"{what}: HTTP {status} {text}".rstrip(), status=status, code=code)


def order_configuration(request: OrderRequest) -> dict[str, dict[str, Any]]:
    """The one-key ``order_configuration`` for a request (limit GTC when limit_price is set)."""
    if request.limit_price is not None:
        if request.base_size is None:
            raise ExchangeError("a limit order needs base_size", code="INVALID_REQUEST")
        return {
            "limit_limit_gtc": {
                "base_size": _text(request.base_size),
                "limit_price": _text(request.limit_price),
                "post_only": False,
            }
        }
    if (request.quote_size is None) == (request.base_size is None):
        raise ExchangeError(
            "a market order needs exactly one of quote_size, base_size", code="INVALID_REQUEST"
        )
    if request.quote_size is not None:
        return {"market_market_ioc": {"quote_size": _text(request.quote_size)}}
    assert request.base_size is not None
    return {"market_market_ioc": {"base_size": _text(request.base_size)}}


def _text(value: Decimal) -> str:
    """Plain notation: ``Decimal("1E-8")`` must go out as ``0.00000001``."""
    return format(value, "f")
