"""The market-data channels' frames in Coinbase's shapes: the envelope and the event bodies.

``ticker``, ``ticker_batch`` (ticker items without the best bid/ask fields), ``market_trades``,
``l2_data`` (the ``level2`` subscription) and ``user`` (one paper account's order updates). An
envelope is split around its ``sequence_num``: the head before it, the tail after it, so one
encoding serves every subscriber and only the per-connection number is spliced in when it leaves.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

import orjson

from streambot.simulator.market import MarketTick, MarketTrade, ProductSpec
from streambot.simulator.wire import decimal_text, on_increment, rfc3339_nano
from streambot.venues.matcher.orders import SimOrder

USER_SNAPSHOT_BATCH: Final = 50
_ZERO_TIME: Final = "0001-01-01T00:00:00Z"
_WS_ORDER_TYPES: Final = {"MARKET": "Market", "LIMIT": "Limit", "STOP_LIMIT": "StopLimit"}
EMPTY_POSITIONS: Final[dict[str, list[Any]]] = {
    "perpetual_futures_positions": [],
    "expiring_futures_positions": [],
}

BookSide = list[tuple[Decimal, Decimal]]


def envelope_head(channel: str, ns: int) -> bytes:
    return (
        b'{"channel":"'
        + channel.encode()
        + b'","client_id":"","timestamp":"'
        + rfc3339_nano(ns).encode()
        + b'","sequence_num":'
    )


def event_tail(event: object) -> bytes:
    """The rest of an envelope after its ``sequence_num``: one event."""
    return b',"events":[' + orjson.dumps(event) + b"]}"


def tickers_tail(kind: str, items: bytes) -> bytes:
    """One ticker event; ``items`` are the ticker items already encoded and comma-joined."""
    return b',"events":[{"type":"' + kind.encode() + b'","tickers":[' + items + b"]}]}"


def error_frame(message: str) -> bytes:
    """A flat error frame: no envelope, no ``sequence_num``."""
    return orjson.dumps({"type": "error", "message": message})


def ticker_event_item(tick: MarketTick, spec: ProductSpec) -> dict[str, str]:
    quote, base = spec.quote_increment, spec.base_increment
    return {
        "type": "ticker",
        "product_id": tick.product_id,
        "price": on_increment(tick.price, quote),
        "volume_24_h": on_increment(tick.volume_24h, base),
        "low_24_h": on_increment(tick.low_24h, quote),
        "high_24_h": on_increment(tick.high_24h, quote),
        "low_52_w": on_increment(tick.low_52w, quote),
        "high_52_w": on_increment(tick.high_52w, quote),
        "price_percent_chg_24_h": decimal_text(tick.price_percent_change_24h),
        "best_bid": on_increment(tick.best_bid, quote),
        "best_bid_quantity": on_increment(tick.best_bid_quantity, base),
        "best_ask": on_increment(tick.best_ask, quote),
        "best_ask_quantity": on_increment(tick.best_ask_quantity, base),
    }


def market_trade_json(trade: MarketTrade, spec: ProductSpec, time_text: str) -> dict[str, str]:
    return {
        "trade_id": trade.trade_id,
        "product_id": trade.product_id,
        "price": on_increment(trade.price, spec.quote_increment),
        "size": on_increment(trade.size, spec.base_increment),
        "side": trade.side,
        "time": time_text,
    }


def book_levels(bids: BookSide, asks: BookSide, spec: ProductSpec) -> dict[tuple[str, str], str]:
    """{(side, price_level): new_quantity} of a book, on the product's increments."""
    levels: dict[tuple[str, str], str] = {}
    for side, rows in (("bid", bids), ("offer", asks)):
        for price, size in rows:
            levels[(side, on_increment(price, spec.quote_increment))] = on_increment(
                size, spec.base_increment
            )
    return levels


def book_diff(
    before: dict[tuple[str, str], str], after: dict[tuple[str, str], str]
) -> list[tuple[str, str, str]]:
    """(side, price_level, new_quantity) that turn ``before`` into ``after``; "0" removes a level."""
    changes = [(side, price, qty) for (side, price), qty in after.items() if before.get((side, price)) != qty]
    changes += [(side, price, "0") for (side, price) in before if (side, price) not in after]
    return changes


def l2_updates(rows: list[tuple[str, str, str]], event_time: str) -> list[dict[str, str]]:
    return [
        {"side": side, "event_time": event_time, "price_level": price, "new_quantity": qty}
        for side, price, qty in rows
    ]


def user_order_json(order: SimOrder, portfolio_id: str, time_text: str) -> dict[str, Any]:
    """An order as the ``user`` channel reports it: cumulative, strings, WS order-type names."""
    leaves = order.remaining if order.status == "OPEN" else Decimal(0)
    return {
        "avg_price": decimal_text(order.average_filled_price),
        "cancel_reason": order.cancel_message,
        "client_order_id": order.client_order_id,
        "completion_percentage": format(order.completion_percentage.quantize(Decimal("0.01")), "f"),
        "contract_expiry_type": "UNKNOWN_CONTRACT_EXPIRY_TYPE",
        "cumulative_quantity": decimal_text(order.filled_size),
        "filled_value": decimal_text(order.filled_value),
        "leaves_quantity": decimal_text(leaves),
        "limit_price": decimal_text(order.limit_price) if order.limit_price is not None else "0",
        "number_of_fills": str(order.number_of_fills),
        "order_id": order.order_id,
        "order_side": order.side,
        "order_type": _WS_ORDER_TYPES.get(order.order_type, order.order_type.title()),
        "outstanding_hold_amount": decimal_text(order.hold),
        "post_only": "true" if order.post_only else "false",
        "product_id": order.product_id,
        "product_type": "SPOT",
        "reject_reason": "",
        "retail_portfolio_id": portfolio_id,
        "risk_managed_by": "UNKNOWN_RISK_MANAGEMENT_TYPE",
        "status": order.status,
        "stop_price": decimal_text(order.stop_price) if order.stop_price is not None else "",
        "time_in_force": order.time_in_force,
        "total_fees": decimal_text(order.total_fees),
        "total_value_after_fees": decimal_text(order.total_value_after_fees),
        "trigger_status": order.trigger_status,
        "creation_time": time_text,
        "end_time": _ZERO_TIME,
        "start_time": _ZERO_TIME,
    }
