"""Orders as the matcher keeps them, the requests that create them and the answers it gives.

Order configurations, statuses and failure codes are Coinbase's, so the simulator can echo them
on the wire unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any, Final

from streambot.domain import Side, slot_init
from streambot.venues.matcher.fees import AMOUNTS, quantize_amount

MARKET_IOC: Final = "market_market_ioc"
LIMIT_GTC: Final = "limit_limit_gtc"
STOP_LIMIT_GTC: Final = "stop_limit_stop_limit_gtc"
STOP_UP: Final = "STOP_DIRECTION_STOP_UP"
STOP_DOWN: Final = "STOP_DIRECTION_STOP_DOWN"
SIMULATED_CONFIGURATIONS: Final = frozenset({MARKET_IOC, LIMIT_GTC, STOP_LIMIT_GTC})
KNOWN_CONFIGURATIONS: Final = frozenset(
    {
        MARKET_IOC,
        LIMIT_GTC,
        "sor_limit_ioc",
        "limit_limit_gtd",
        "limit_limit_fok",
        STOP_LIMIT_GTC,
        "stop_limit_stop_limit_gtd",
        "trigger_bracket_gtc",
        "trigger_bracket_gtd",
    }
)

OPEN: Final = "OPEN"
FILLED: Final = "FILLED"
CANCELLED: Final = "CANCELLED"
ORDER_STATUSES: Final = frozenset(
    {
        "PENDING",
        OPEN,
        FILLED,
        CANCELLED,
        "EXPIRED",
        "FAILED",
        "UNKNOWN_ORDER_STATUS",
        "QUEUED",
        "CANCEL_QUEUED",
        "EDIT_QUEUED",
    }
)


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A create-order request as it arrived (strings unparsed: validating them is our job)."""

    client_order_id: str
    product_id: str
    side: str
    order_configuration: Mapping[str, Any]

    @classmethod
    def market(
        cls,
        client_order_id: str,
        product_id: str,
        side: Side | str,
        *,
        quote_size: Decimal | str | None = None,
        base_size: Decimal | str | None = None,
    ) -> NewOrder:
        config: dict[str, str] = {}
        if quote_size is not None:
            config["quote_size"] = str(quote_size)
        if base_size is not None:
            config["base_size"] = str(base_size)
        return cls(client_order_id, product_id, str(side), {MARKET_IOC: config})

    @classmethod
    def limit(
        cls,
        client_order_id: str,
        product_id: str,
        side: Side | str,
        *,
        base_size: Decimal | str,
        limit_price: Decimal | str,
        post_only: bool = False,
    ) -> NewOrder:
        config = {"base_size": str(base_size), "limit_price": str(limit_price), "post_only": post_only}
        return cls(client_order_id, product_id, str(side), {LIMIT_GTC: config})


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why Coinbase would refuse the order (HTTP 200, ``success: false``)."""

    error: str
    message: str
    preview_failure_reason: str


@dataclass(slots=True)
class SimOrder:
    sequence: int
    order_id: str
    client_order_id: str
    product_id: str
    side: str
    order_type: str  # MARKET | LIMIT
    configuration: dict[str, dict[str, Any]]  # echoed back as order_configuration
    created_time: float
    base_size: Decimal | None = None
    quote_size: Decimal | None = None
    limit_price: Decimal | None = None
    post_only: bool = False
    stop_price: Decimal | None = None
    stop_direction: str | None = None
    triggered: bool = False  # stop-limit orders: the stop was reached, the order works as a limit
    status: str = OPEN
    filled_size: Decimal = Decimal(0)
    filled_value: Decimal = Decimal(0)
    total_fees: Decimal = Decimal(0)
    number_of_fills: int = 0
    hold: Decimal = Decimal(0)  # outstanding hold, in the currency the order spends
    last_fill_time: float | None = None
    cancel_message: str = ""
    # An order executed in pieces (the simulator's ``partial_fills`` fault): fills still to come,
    # and the seconds between them. Stored with the order, so a restarted simulator finishes it.
    pieces_left: int = 0
    piece_interval: float = 0.0

    @property
    def time_in_force(self) -> str:
        return "IMMEDIATE_OR_CANCEL" if self.order_type == "MARKET" else "GOOD_UNTIL_CANCELLED"

    @property
    def size_in_quote(self) -> bool:
        return self.quote_size is not None

    @property
    def remaining(self) -> Decimal:
        """Base size still to fill (0 for quote-sized orders once they are done)."""
        if self.base_size is None:
            return Decimal(0)
        return self.base_size - self.filled_size

    @property
    def trigger_status(self) -> str:
        if self.stop_price is None:
            return "INVALID_ORDER_TYPE"
        return "STOP_TRIGGERED" if self.triggered else "STOP_PENDING"

    @property
    def average_filled_price(self) -> Decimal:
        if not self.filled_size:
            return Decimal(0)
        return quantize_amount(AMOUNTS.divide(self.filled_value, self.filled_size))

    @property
    def total_value_after_fees(self) -> Decimal:
        if self.side == "BUY":
            return self.filled_value + self.total_fees
        return self.filled_value - self.total_fees

    @property
    def completion_percentage(self) -> Decimal:
        if self.status == FILLED:
            return Decimal(100)
        target = self.base_size
        if not target or not self.filled_size:
            return Decimal(0)
        return (self.filled_size * 100 / target).quantize(Decimal("0.01"), rounding=ROUND_DOWN)


@slot_init
@dataclass(frozen=True, slots=True)
class PlaceResult:
    """``order`` on success (new or the one an earlier request with that client_order_id made)."""

    order: SimOrder | None
    rejection: Refusal | None
    configuration: dict[str, dict[str, Any]]

    @property
    def success(self) -> bool:
        return self.order is not None


@dataclass(frozen=True, slots=True)
class CancelResult:
    order_id: str
    success: bool
    failure_reason: str  # UNKNOWN_CANCEL_FAILURE_REASON on success, as Coinbase sends it


@dataclass(frozen=True, slots=True)
class Preview:
    """What an order would cost now (``rejection`` set if it would fail)."""

    rejection: Refusal | None
    base_size: Decimal
    quote_size: Decimal
    commission: Decimal
    total: Decimal
    best_bid: Decimal
    best_ask: Decimal
