"""Event bodies of the market-data channels beyond ``ticker`` and ``heartbeats``, in Coinbase's shapes.

``ticker_batch`` (ticker items without the best bid/ask fields), ``market_trades``, ``l2_data``
(the ``level2`` subscription) and ``user`` (one paper account's order updates). The server wraps
them in the envelope and numbers them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

from streambot.simulator.market import MarketTrade, ProductSpec
from streambot.simulator.matching import SimOrder

USER_SNAPSHOT_BATCH: Final = 50
_ZERO_TIME: Final = "0001-01-01T00:00:00Z"
_WS_ORDER_TYPES: Final = {"MARKET": "Market", "LIMIT": "Limit", "STOP_LIMIT": "StopLimit"}
EMPTY_POSITIONS: Final[dict[str, list[Any]]] = {
    "perpetual_futures_positions": [],
    "expiring_futures_positions": [],
}

BookSide = list[tuple[Decimal, Decimal]]


def _text(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def market_trade_json(trade: MarketTrade, spec: ProductSpec, time_text: str) -> dict[str, str]:
    return {
        "trade_id": trade.trade_id,
        "product_id": trade.product_id,
        "price": _text(trade.price.quantize(spec.quote_increment)),
        "size": _text(trade.size.quantize(spec.base_increment)),
        "side": trade.side,
        "time": time_text,
    }


def book_levels(bids: BookSide, asks: BookSide, spec: ProductSpec) -> dict[tuple[str, str], str]:
    """{(side, price_level): new_quantity} of a book, on the product's increments."""
    levels: dict[tuple[str, str], str] = {}
    for side, rows in (("bid", bids), ("offer", asks)):
        for price, size in rows:
            levels[(side, _text(price.quantize(spec.quote_increment)))] = _text(
                size.quantize(spec.base_increment)
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
        "avg_price": _text(order.average_filled_price),
        "cancel_reason": order.cancel_message,
        "client_order_id": order.client_order_id,
        "completion_percentage": format(order.completion_percentage.quantize(Decimal("0.01")), "f"),
        "contract_expiry_type": "UNKNOWN_CONTRACT_EXPIRY_TYPE",
        "cumulative_quantity": _text(order.filled_size),
        "filled_value": _text(order.filled_value),
        "leaves_quantity": _text(leaves),
        "limit_price": _text(order.limit_price) if order.limit_price is not None else "0",
        "number_of_fills": str(order.number_of_fills),
        "order_id": order.order_id,
        "order_side": order.side,
        "order_type": _WS_ORDER_TYPES.get(order.order_type, order.order_type.title()),
        "outstanding_hold_amount": _text(order.hold),
        "post_only": "true" if order.post_only else "false",
        "product_id": order.product_id,
        "product_type": "SPOT",
        "reject_reason": "",
        "retail_portfolio_id": portfolio_id,
        "risk_managed_by": "UNKNOWN_RISK_MANAGEMENT_TYPE",
        "status": order.status,
        "stop_price": _text(order.stop_price) if order.stop_price is not None else "",
        "time_in_force": order.time_in_force,
        "total_fees": _text(order.total_fees),
        "total_value_after_fees": _text(order.total_value_after_fees),
        "trigger_status": order.trigger_status,
        "creation_time": time_text,
        "end_time": _ZERO_TIME,
        "start_time": _ZERO_TIME,
    }
