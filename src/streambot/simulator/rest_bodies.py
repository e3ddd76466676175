"""The REST API's resources in Coinbase's shapes: accounts, products, books, candles, orders, fills.

Field for field what Coinbase sends (see shared/docs/coinbase-advanced-trade.md and the fixtures),
including the fields the simulator has no use for, so a client parses paper and live alike.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from streambot.simulator.market import MarketCandle, MarketTick, ProductSpec
from streambot.simulator.wire import balance_text, decimal_text, on_increment, rfc3339_micro, rfc3339_milli
from streambot.venues.matcher.accounts import Account
from streambot.venues.matcher.fills import SimFill
from streambot.venues.matcher.orders import FILLED, Refusal, SimOrder

FIAT: Final = frozenset({"USD", "EUR", "GBP"})


def account_json(account: Account) -> dict[str, Any]:
    currency = account.currency
    return {
        "uuid": account.uuid,
        "name": f"{currency} Wallet",
        "currency": currency,
        "available_balance": {"value": balance_text(account.available), "currency": currency},
        "default": True,
        "active": True,
        "created_at": rfc3339_milli(account.created_at),
        "updated_at": rfc3339_milli(account.updated_at),
        "deleted_at": None,
        "type": "ACCOUNT_TYPE_FIAT" if currency in FIAT else "ACCOUNT_TYPE_CRYPTO",
        "ready": True,
        "hold": {"value": balance_text(account.hold), "currency": currency},
    }


def product_json(spec: ProductSpec, tick: MarketTick) -> dict[str, Any]:
    quote = spec.quote_increment
    return {
        "product_id": spec.product_id,
        "price": on_increment(tick.price, quote),
        "price_percentage_change_24h": decimal_text(tick.price_percent_change_24h),
        "volume_24h": on_increment(tick.volume_24h, spec.base_increment),
        "volume_percentage_change_24h": "0",
        "base_increment": decimal_text(spec.base_increment),
        "quote_increment": decimal_text(quote),
        "quote_min_size": decimal_text(spec.quote_min_size),
        "quote_max_size": decimal_text(spec.quote_max_size),
        "base_min_size": decimal_text(spec.base_min_size),
        "base_max_size": decimal_text(spec.base_max_size),
        "base_name": spec.base_name,
        "quote_name": spec.quote_name,
        "watched": False,
        "is_disabled": False,
        "new": False,
        "status": "online",
        "cancel_only": False,
        "limit_only": False,
        "post_only": False,
        "trading_disabled": False,
        "auction_mode": False,
        "product_type": "SPOT",
        "quote_currency_id": spec.quote_currency,
        "base_currency_id": spec.base_currency,
        "fcm_trading_session_details": None,
        "mid_market_price": "",
        "alias": "",
        "alias_to": [],
        "base_display_symbol": spec.base_currency,
        "quote_display_symbol": spec.quote_currency,
    }


def pricebook_json(
    spec: ProductSpec,
    bids: list[tuple[Decimal, Decimal]],
    asks: list[tuple[Decimal, Decimal]],
    time: float,
) -> dict[str, Any]:
    def rows(side: list[tuple[Decimal, Decimal]]) -> list[dict[str, str]]:
        return [
            {
                "price": on_increment(price, spec.quote_increment),
                "size": on_increment(size, spec.base_increment),
            }
            for price, size in side
        ]

    return {
        "product_id": spec.product_id,
        "bids": rows(bids),
        "asks": rows(asks),
        "time": rfc3339_micro(time),
    }


def candle_json(candle: MarketCandle, spec: ProductSpec) -> dict[str, str]:
    quote = spec.quote_increment
    return {
        "start": str(candle.start),
        "low": on_increment(candle.low, quote),
        "high": on_increment(candle.high, quote),
        "open": on_increment(candle.open, quote),
        "close": on_increment(candle.close, quote),
        "volume": on_increment(candle.volume, spec.base_increment),
    }


def order_json(order: SimOrder, user_id: str) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "product_id": order.product_id,
        "user_id": user_id,
        "order_configuration": order.configuration,
        "side": order.side,
        "client_order_id": order.client_order_id,
        "status": order.status,
        "time_in_force": order.time_in_force,
        "created_time": rfc3339_micro(order.created_time),
        "completion_percentage": decimal_text(order.completion_percentage),
        "filled_size": decimal_text(order.filled_size),
        "average_filled_price": decimal_text(order.average_filled_price),
        "fee": "",
        "number_of_fills": str(order.number_of_fills),
        "filled_value": decimal_text(order.filled_value),
        "pending_cancel": False,
        "size_in_quote": order.size_in_quote,
        "total_fees": decimal_text(order.total_fees),
        "size_inclusive_of_fees": order.size_in_quote,
        "total_value_after_fees": decimal_text(order.total_value_after_fees),
        "trigger_status": order.trigger_status,
        "order_type": order.order_type,
        "reject_reason": "REJECT_REASON_UNSPECIFIED",
        "settled": order.status == FILLED,
        "product_type": "SPOT",
        "reject_message": "",
        "cancel_message": order.cancel_message,
        "order_placement_source": "RETAIL_ADVANCED",
        "outstanding_hold_amount": decimal_text(order.hold),
        "is_liquidation": False,
        "last_fill_time": rfc3339_micro(order.last_fill_time) if order.last_fill_time is not None else None,
        "edit_history": [],
        "leverage": "",
        "margin_type": "UNKNOWN_MARGIN_TYPE",
    }


def fill_json(fill: SimFill, spec: ProductSpec | None, user_id: str, portfolio_id: str) -> dict[str, Any]:
    """``spec`` None: a fill of a product the simulator does not list (prices go out unrounded)."""
    price = on_increment(fill.price, spec.quote_increment) if spec else decimal_text(fill.price)
    return {
        "entry_id": fill.entry_id,
        "trade_id": fill.trade_id,
        "order_id": fill.order_id,
        "trade_time": rfc3339_micro(fill.time),
        "trade_type": "FILL",
        "price": price,
        # Coinbase reports a quote-sized order's fill size in the quote currency.
        "size": decimal_text(fill.size * fill.price if fill.size_in_quote else fill.size),
        "commission": decimal_text(fill.commission),
        "product_id": fill.product_id,
        "sequence_timestamp": rfc3339_micro(fill.time),
        "liquidity_indicator": fill.liquidity_indicator,
        "size_in_quote": fill.size_in_quote,
        "user_id": user_id,
        "side": fill.side,
        "retail_portfolio_id": portfolio_id,
    }


def rejection_json(rejection: Refusal) -> dict[str, str]:
    return {
        "error": rejection.error,
        "message": rejection.message,
        "error_details": "",
        "preview_failure_reason": rejection.preview_failure_reason,
    }
