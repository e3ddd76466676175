"""Coinbase Advanced Trade REST bodies (``/api/v3/brokerage``) as msgspec Structs: the wire format.

Money stays a string here, as Coinbase sends it (``""`` means "no value" in places, which a direct
Decimal decode would reject); ``parse`` turns these into domain types. Only the Coinbase adapter and
the simulator speak this vocabulary.
"""

from __future__ import annotations

from typing import Final

import msgspec

GRANULARITY_SECONDS: Final[dict[str, int]] = {
    "ONE_MINUTE": 60,
    "FIVE_MINUTE": 300,
    "FIFTEEN_MINUTE": 900,
    "THIRTY_MINUTE": 1800,
    "ONE_HOUR": 3600,
    "TWO_HOUR": 7200,
    "SIX_HOUR": 21600,
    "ONE_DAY": 86400,
}
"""The candles endpoint's ``granularity`` values and their length in seconds, as documented
(``FOUR_HOUR`` appears only in third-party lists, so neither the client nor the simulator uses it)."""


class RestAmount(msgspec.Struct):
    value: str = "0"
    currency: str = ""


class RestAccount(msgspec.Struct):
    currency: str
    available_balance: RestAmount = msgspec.field(default_factory=RestAmount)
    hold: RestAmount = msgspec.field(default_factory=RestAmount)
    uuid: str = ""


class RestAccountsPage(msgspec.Struct):
    accounts: list[RestAccount] = []
    has_next: bool = False
    cursor: str = ""


class RestProduct(msgspec.Struct):
    product_id: str
    base_increment: str
    quote_increment: str
    base_currency_id: str = ""
    quote_currency_id: str = ""
    base_min_size: str = "0"
    base_max_size: str = "0"
    quote_min_size: str = "0"
    quote_max_size: str = "0"
    trading_disabled: bool = False
    is_disabled: bool = False
    cancel_only: bool = False
    status: str = ""


class RestProducts(msgspec.Struct):
    products: list[RestProduct] = []


class RestPriceLevel(msgspec.Struct):
    price: str
    size: str = "0"


class RestPricebook(msgspec.Struct):
    product_id: str
    bids: list[RestPriceLevel] = []
    asks: list[RestPriceLevel] = []
    time: str = ""


class RestPricebooks(msgspec.Struct):
    pricebooks: list[RestPricebook] = []


class RestOrderCreated(msgspec.Struct):
    order_id: str = ""
    client_order_id: str = ""


class RestOrderRefused(msgspec.Struct):
    error: str = ""
    message: str = ""
    error_details: str = ""
    preview_failure_reason: str = ""
    new_order_failure_reason: str = ""


class RestCreateOrderResponse(msgspec.Struct):
    success: bool
    success_response: RestOrderCreated | None = None
    error_response: RestOrderRefused | None = None
    failure_reason: str = ""
    order_id: str = ""  # deprecated top-level copy


class RestOrder(msgspec.Struct):
    order_id: str
    product_id: str
    side: str
    status: str
    client_order_id: str = ""
    filled_size: str = "0"
    average_filled_price: str = "0"
    filled_value: str = "0"
    total_fees: str = "0"
    created_time: str | None = None


class RestOrderEnvelope(msgspec.Struct):
    order: RestOrder


class RestOrdersPage(msgspec.Struct):
    orders: list[RestOrder] = []
    has_next: bool = False
    cursor: str = ""


class RestFill(msgspec.Struct):
    order_id: str
    product_id: str
    side: str
    price: str
    size: str
    trade_time: str
    trade_id: str = ""
    entry_id: str = ""
    commission: str = "0"
    size_in_quote: bool = False


class RestFillsPage(msgspec.Struct):
    fills: list[RestFill] = []
    cursor: str = ""


class RestCancelResult(msgspec.Struct):
    success: bool
    order_id: str = ""
    failure_reason: str = ""


class RestCancelResults(msgspec.Struct):
    results: list[RestCancelResult] = []


class RestCandle(msgspec.Struct):
    start: str
    low: str
    high: str
    open: str
    close: str
    volume: str = "0"


class RestCandles(msgspec.Struct):
    candles: list[RestCandle] = []


class RestErrorItem(msgspec.Struct):
    id: str = ""
    message: str = ""


class RestErrorBody(msgspec.Struct):
    error: str = ""
    message: str = ""
    error_details: str = ""
    errors: list[RestErrorItem] = []  # the documented 429 body


class RestFeeTier(msgspec.Struct):
    pricing_tier: str = ""
    taker_fee_rate: str = ""
    maker_fee_rate: str = ""


class RestTransactionSummary(msgspec.Struct):
    """``GET /transaction_summary``: the account's volume and its fee tier (other keys ignored)."""

    fee_tier: RestFeeTier
    total_volume: float = 0.0
    total_fees: float = 0.0


class RestKeyPermissions(msgspec.Struct):
    """``GET /key_permissions``: what the API key that signed the request may do."""

    can_view: bool = False
    can_trade: bool = False
    can_transfer: bool = False
    portfolio_uuid: str = ""
    portfolio_type: str = ""


class RestServerTime(msgspec.Struct):
    """``GET /time`` (public): the exchange's clock; the seconds come as a string."""

    epochSeconds: str
    iso: str = ""
