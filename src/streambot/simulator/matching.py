"""Paper account and order matching, the way Coinbase Advanced Trade fills a retail account.

Pure: no I/O and no clock (callers pass ``now``, UNIX seconds). Money is ``Decimal``; amounts the
exchange computes (fees, sizes bought by quote) keep 16 decimal places, as Coinbase reports them.

- ``market_market_ioc`` fills at once at the best ask (buys) or best bid (sells), as taker.
  A buy by ``quote_size`` spends exactly that amount, fee included (``size_inclusive_of_fees``),
  like Coinbase; a buy by ``base_size`` pays the fee on top.
- ``limit_limit_gtc`` that crosses the book fills at once as taker at the touch; otherwise it rests
  (its funds on hold) and fills at its limit price, as maker, when a later quote crosses it: each
  tick fills at most the size quoted at the touch, so a large order fills in parts over several
  ticks and stays ``OPEN`` with ``filled_size > 0`` meanwhile (Coinbase has no PARTIALLY_FILLED).
- ``stop_limit_stop_limit_gtc`` waits (funds on hold) until the last price reaches its stop
  (``STOP_UP``: at or above, ``STOP_DOWN``: at or below), then behaves as the limit order above.
- Failures carry Coinbase's ``error`` / ``preview_failure_reason`` codes; a reused
  ``client_order_id`` returns the order it first created.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation, localcontext
from typing import Any, Final

from streambot.domain import Product, Side

log = logging.getLogger(__name__)

AMOUNT_QUANTUM: Final = Decimal("0.0000000000000001")  # Coinbase's 16 decimal places
_PRECISION: Final = 50
_MAX_PRICE: Final = Decimal("1e15")
_NAMESPACE: Final = uuid.UUID("5f0c6a62-2f6e-4c41-9d8e-7f3b1f1c0a11")

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


def quantize_amount(value: Decimal) -> Decimal:
    with localcontext() as context:
        context.prec = _PRECISION
        return value.quantize(AMOUNT_QUANTUM, rounding=ROUND_DOWN)


def account_uuid(currency: str) -> str:
    """Stable per currency, so a restarted simulator keeps the same account ids."""
    return str(uuid.uuid5(_NAMESPACE, f"account:{currency}"))


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
class Rejection:
    """Why Coinbase would refuse the order (HTTP 200, ``success: false``)."""

    error: str
    message: str
    preview_failure_reason: str


@dataclass(slots=True)
class Account:
    uuid: str
    currency: str
    available: Decimal = Decimal(0)
    hold: Decimal = Decimal(0)
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class SimFill:
    sequence: int
    entry_id: str
    trade_id: str
    order_id: str
    product_id: str
    side: str
    price: Decimal
    size: Decimal
    commission: Decimal
    liquidity_indicator: str  # MAKER | TAKER
    size_in_quote: bool
    time: float


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
        with localcontext() as context:
            context.prec = _PRECISION
            return quantize_amount(self.filled_value / self.filled_size)

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


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """``order`` on success (new or the one an earlier request with that client_order_id made)."""

    order: SimOrder | None
    rejection: Rejection | None
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

    rejection: Rejection | None
    base_size: Decimal
    quote_size: Decimal
    commission: Decimal
    total: Decimal
    best_bid: Decimal
    best_ask: Decimal


@dataclass(frozen=True, slots=True)
class _Parsed:
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


@dataclass(frozen=True, slots=True)
class Changes:
    """What moved since the last ``take_changes``: the rows a persistent account must rewrite."""

    accounts: list[Account]
    orders: list[SimOrder]
    fills: list[SimFill]
    order_sequence: int
    fill_sequence: int

    def __bool__(self) -> bool:
        return bool(self.accounts or self.orders or self.fills)


class _Reject(Exception):
    def __init__(self, error: str, message: str, preview: str) -> None:
        super().__init__(message)
        self.rejection = Rejection(error, message, preview)


def _reject(error: str, message: str, preview: str | None = None) -> _Reject:
    return _Reject(error, message, preview if preview is not None else f"PREVIEW_{error}")


def _parse_decimal(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise _reject("INVALID_REQUEST", f"{name} must be a decimal string", "PREVIEW_NON_NUMERIC_ORDER_SIZE")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise _reject(
            "INVALID_REQUEST", f"{name} is not a number: {value!r}", "PREVIEW_NON_NUMERIC_ORDER_SIZE"
        ) from None
    if not number.is_finite():
        raise _reject(
            "INVALID_REQUEST", f"{name} is not a number: {value!r}", "PREVIEW_NON_NUMERIC_ORDER_SIZE"
        )
    return number


def _check_size(
    size: Decimal, kind: str, minimum: Decimal, maximum: Decimal, increment: Decimal, currency: str
) -> None:
    """Coinbase's order-size checks, in its order: too large, too precise, then too small (a tiny size
    is reported as a precision problem, not as smallness)."""
    upper = kind.upper()
    if size > maximum:
        raise _reject(
            "UNKNOWN_FAILURE_REASON",
            f"Order size too large: the maximum is {maximum:f} {currency}",
            f"PREVIEW_INVALID_{upper}_SIZE_TOO_LARGE",
        )
    if size > 0 and not _on_increment(size, increment):
        raise _reject(
            "INVALID_SIZE_PRECISION",
            f"{kind}_size is too precise: the increment is {increment:f}",
            # Coinbase's documented reason for base sizes is the generic PREVIEW_INVALID_SIZE_PRECISION.
            "PREVIEW_INVALID_QUOTE_SIZE_PRECISION" if kind == "quote" else None,
        )
    if size <= 0 or size < minimum:
        raise _reject(
            "UNKNOWN_FAILURE_REASON",
            f"Order size too small: the minimum is {minimum:f} {currency}",
            f"PREVIEW_INVALID_{upper}_SIZE_TOO_SMALL",
        )


def _on_increment(value: Decimal, increment: Decimal) -> bool:
    return increment <= 0 or value % increment == 0


class MatchingEngine:
    """One paper account trading every simulated product."""

    def __init__(
        self,
        products: Iterable[Product],
        *,
        starting_balances: Mapping[str, Decimal] | None = None,
        taker_fee_rate: Decimal = Decimal("0.006"),
        maker_fee_rate: Decimal = Decimal("0.004"),
        seed: int | None = None,
        now: float = 0.0,
    ) -> None:
        self.taker_fee_rate = taker_fee_rate
        self.maker_fee_rate = maker_fee_rate
        self.user_id = str(uuid.uuid5(_NAMESPACE, "user"))
        self.portfolio_id = str(uuid.uuid5(_NAMESPACE, "portfolio"))
        self._rng = random.Random(f"{seed}:ids") if seed is not None else None
        self._products: dict[str, Product] = {}
        self._accounts: dict[str, Account] = {}
        self._orders: dict[str, SimOrder] = {}
        self._by_client_id: dict[str, SimOrder] = {}
        self._resting: dict[str, dict[str, SimOrder]] = {}  # product -> order_id -> order
        self._stops: dict[str, dict[str, SimOrder]] = {}  # untriggered stop-limit orders
        self._fills: list[SimFill] = []
        self._quotes: dict[str, tuple[Decimal, Decimal]] = {}
        self._order_seq = 0
        self._fill_seq = 0
        self._seed = seed
        # What changed since the last take_changes (a persistent account writes exactly these).
        self._dirty_accounts: dict[str, Account] = {}
        self._dirty_orders: dict[str, SimOrder] = {}
        self._new_fills: list[SimFill] = []
        for product in products:
            self.add_product(product, now)
        for currency, amount in (starting_balances or {}).items():
            self._account(currency, now).available += amount

    # --- persistence ---------------------------------------------------------------------------

    @property
    def has_changes(self) -> bool:
        return bool(self._dirty_orders or self._dirty_accounts or self._new_fills)

    def take_changes(self) -> Changes:
        changes = Changes(
            list(self._dirty_accounts.values()),
            list(self._dirty_orders.values()),
            self._new_fills,
            self._order_seq,
            self._fill_seq,
        )
        self._dirty_accounts, self._dirty_orders, self._new_fills = {}, {}, []
        return changes

    def all_state(self) -> Changes:
        """Everything, as one set of changes (the first save of a new account)."""
        return Changes(
            list(self._accounts.values()),
            list(self._orders.values()),
            list(self._fills),
            self._order_seq,
            self._fill_seq,
        )

    def restore(
        self,
        accounts: Iterable[Account],
        orders: Iterable[SimOrder],
        fills: Iterable[SimFill],
        *,
        order_sequence: int,
        fill_sequence: int,
    ) -> None:
        """Replace the account with a saved one: balances, holds, orders (resting ones back on the
        book), fills and the id counters; ``client_order_id`` idempotency holds across restarts."""
        for account in accounts:
            self._accounts[account.currency] = account
        self._orders.clear()
        self._by_client_id.clear()
        for resting in (*self._resting.values(), *self._stops.values()):
            resting.clear()
        for order in sorted(orders, key=lambda o: o.sequence):
            self._orders[order.order_id] = order
            self._by_client_id[order.client_order_id] = order
            if order.status == OPEN and order.order_type != "MARKET":
                if order.stop_price is not None and not order.triggered:
                    self._stops.setdefault(order.product_id, {})[order.order_id] = order
                else:
                    self._resting.setdefault(order.product_id, {})[order.order_id] = order
        self._fills = sorted(fills, key=lambda f: f.sequence)
        self._order_seq = max(order_sequence, max((o.sequence for o in self._orders.values()), default=0))
        self._fill_seq = max(fill_sequence, self._fills[-1].sequence if self._fills else 0)
        if self._seed is not None:
            # A seeded engine must not hand out the ids it already gave before the restart.
            self._rng = random.Random(f"{self._seed}:ids:{self._order_seq}:{self._fill_seq}")
        self._dirty_accounts.clear()
        self._dirty_orders.clear()
        self._new_fills = []

    # --- setup and queries ---------------------------------------------------------------------

    def add_product(self, product: Product, now: float = 0.0) -> None:
        self._products[product.product_id] = product
        self._resting.setdefault(product.product_id, {})
        self._account(product.quote_currency, now)
        self._account(product.base_currency, now)

    def accounts(self) -> list[Account]:
        """Quote currencies first (USD leads), then bases in product order."""
        return list(self._accounts.values())

    def account_by_uuid(self, account_uuid_: str) -> Account | None:
        for account in self._accounts.values():
            if account.uuid == account_uuid_:
                return account
        return None

    def get_order(self, order_id: str) -> SimOrder | None:
        return self._orders.get(order_id)

    def list_orders(
        self,
        *,
        statuses: Iterable[str] = (),
        product_ids: Iterable[str] = (),
        order_ids: Iterable[str] = (),
        created_from: datetime | None = None,
        created_before: datetime | None = None,
        before_sequence: int | None = None,
        limit: int | None = None,
    ) -> list[SimOrder]:
        """Newest first; ``before_sequence`` continues a page (orders with a lower-or-equal sequence).

        ``created_from`` is inclusive and ``created_before`` exclusive, as Coinbase's ``start_date``
        and ``end_date``. At most ``limit`` orders (None: all)."""
        wanted_status, wanted_products, wanted_ids = set(statuses), set(product_ids), set(order_ids)
        found: list[SimOrder] = []
        for order in reversed(self._orders.values()):
            if limit is not None and len(found) >= limit:
                break
            if before_sequence is not None and order.sequence > before_sequence:
                continue
            if wanted_status and order.status not in wanted_status:
                continue
            if wanted_products and order.product_id not in wanted_products:
                continue
            if wanted_ids and order.order_id not in wanted_ids:
                continue
            if not _within(order.created_time, created_from, created_before):
                continue
            found.append(order)
        return found

    def list_fills(
        self,
        *,
        order_ids: Iterable[str] = (),
        product_ids: Iterable[str] = (),
        traded_from: datetime | None = None,
        traded_before: datetime | None = None,
        before_sequence: int | None = None,
        limit: int | None = None,
    ) -> list[SimFill]:
        """Newest first. ``traded_from`` is inclusive and ``traded_before`` exclusive, as Coinbase's
        ``start_sequence_timestamp`` and ``end_sequence_timestamp``. At most ``limit`` fills."""
        wanted_orders, wanted_products = set(order_ids), set(product_ids)
        found: list[SimFill] = []
        for fill in reversed(self._fills):
            if limit is not None and len(found) >= limit:
                break
            if before_sequence is not None and fill.sequence > before_sequence:
                continue
            if wanted_orders and fill.order_id not in wanted_orders:
                continue
            if wanted_products and fill.product_id not in wanted_products:
                continue
            if not _within(fill.time, traded_from, traded_before):
                continue
            found.append(fill)
        return found

    # --- market --------------------------------------------------------------------------------

    def update_market(
        self,
        product_id: str,
        best_bid: Decimal,
        best_ask: Decimal,
        now: float,
        *,
        bid_size: Decimal | None = None,
        ask_size: Decimal | None = None,
        last: Decimal | None = None,
    ) -> list[SimFill]:
        """Record the new touch, trigger stops the ``last`` price reached, and fill resting orders
        the touch crosses (at their limit, as maker). ``bid_size``/``ask_size`` cap what this tick
        can fill (shared by the orders in time priority); None means no cap."""
        self._quotes[product_id] = (best_bid, best_ask)
        fills: list[SimFill] = []
        stops = self._stops.get(product_id)
        if stops:
            price = last if last is not None else (best_bid + best_ask) / 2
            for order in sorted(stops.values(), key=lambda o: o.sequence):
                assert order.stop_price is not None
                reached = (
                    price >= order.stop_price
                    if order.stop_direction == STOP_UP
                    else price <= order.stop_price
                )
                if reached:
                    del stops[order.order_id]
                    order.triggered = True
                    self._dirty_orders[order.order_id] = order
                    log.debug("Stop %s triggered at %s", order.order_id, price)
                    fills.extend(self._work_limit(order, best_bid, best_ask, now))
        resting = self._resting.get(product_id)
        if not resting:
            return fills
        crossed = [
            order
            for order in resting.values()
            if order.limit_price is not None
            and self._crosses(order.side, order.limit_price, best_bid, best_ask)
        ]
        available = {"BUY": ask_size, "SELL": bid_size}
        increment = self._products[product_id].base_increment
        for order in sorted(crossed, key=lambda o: o.sequence):
            assert order.limit_price is not None
            size = order.remaining
            cap = available[order.side]
            if cap is not None:
                size = (
                    min(size, cap).quantize(increment, rounding=ROUND_DOWN)
                    if increment > 0
                    else min(size, cap)
                )
                if size <= 0:
                    continue
                available[order.side] = cap - size
            fills.append(self._fill(order, order.limit_price, size, None, maker=True, now=now))
            if order.status != OPEN:
                del resting[order.order_id]
        return fills

    # --- orders --------------------------------------------------------------------------------

    def place_order(self, request: NewOrder, now: float) -> PlaceResult:
        existing = self._by_client_id.get(request.client_order_id)
        if existing is not None:
            # Coinbase's idempotency: the same client_order_id never creates a second order.
            return PlaceResult(existing, None, existing.configuration)
        try:
            parsed, (bid, ask) = self._validate(request)
        except _Reject as rejected:
            log.debug("Order %s rejected: %s", request.client_order_id, rejected.rejection.error)
            return PlaceResult(None, rejected.rejection, _echo_configuration(request.order_configuration))
        order = self._new_order(request, parsed, now)
        if parsed.order_type == "MARKET":
            self._execute_market(order, parsed, bid, ask, now)
        elif parsed.order_type == "STOP_LIMIT":
            self._place_hold(order, now)
            self._stops.setdefault(order.product_id, {})[order.order_id] = order
        else:
            self._work_limit(order, bid, ask, now)
        return PlaceResult(order, None, order.configuration)

    def preview_order(self, request: NewOrder) -> Preview:
        try:
            parsed, (bid, ask) = self._validate(request)
        except _Reject as rejected:
            quote = self._quotes.get(request.product_id, (Decimal(0), Decimal(0)))
            return Preview(rejected.rejection, Decimal(0), Decimal(0), Decimal(0), Decimal(0), *quote)
        base, value, fee, total = self._estimate(parsed, bid, ask)
        return Preview(None, base, value, fee, total, bid, ask)

    def cancel_orders(self, order_ids: Iterable[str], now: float) -> list[CancelResult]:
        results = []
        for order_id in order_ids:
            if not order_id:
                results.append(CancelResult(order_id, False, "INVALID_CANCEL_REQUEST"))
                continue
            order = self._orders.get(order_id)
            if order is None:
                results.append(CancelResult(order_id, False, "UNKNOWN_CANCEL_ORDER"))
            elif order.status == FILLED:
                results.append(CancelResult(order_id, False, "ORDER_IS_FULLY_FILLED"))
            elif order.status != OPEN:
                results.append(CancelResult(order_id, False, "DUPLICATE_CANCEL_REQUEST"))
            elif order.order_type == "MARKET":
                results.append(CancelResult(order_id, False, "ORDER_IS_FULLY_FILLED"))
            else:
                self._cancel(order, now, "User requested cancel")
                results.append(CancelResult(order_id, True, "UNKNOWN_CANCEL_FAILURE_REASON"))
        return results

    # --- internals -----------------------------------------------------------------------------

    def _account(self, currency: str, now: float) -> Account:
        account = self._accounts.get(currency)
        if account is None:
            account = Account(account_uuid(currency), currency, created_at=now, updated_at=now)
            self._accounts[currency] = account
            self._dirty_accounts[currency] = account
        return account

    def _touched(self, account: Account, now: float) -> None:
        account.updated_at = now
        self._dirty_accounts[account.currency] = account

    def new_id(self) -> str:
        """A uuid4-shaped id (reproducible when the engine is seeded)."""
        if self._rng is not None:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        return str(uuid.uuid4())

    def _validate(self, request: NewOrder) -> tuple[_Parsed, tuple[Decimal, Decimal]]:
        parsed = self._parse(request)
        quote = self._touch(parsed.product.product_id)
        if (
            parsed.post_only
            and parsed.limit_price is not None
            and self._crosses(parsed.side, parsed.limit_price, *quote)
        ):
            raise _reject("INVALID_LIMIT_PRICE_POST_ONLY", "Post-only order would cross the book")
        self._check_funds(parsed, quote)
        return parsed, quote

    def _touch(self, product_id: str) -> tuple[Decimal, Decimal]:
        quote = self._quotes.get(product_id)
        if quote is None:
            raise _reject("INVALID_NO_LIQUIDITY", "no market for this product yet")
        return quote

    def _parse(self, request: NewOrder) -> _Parsed:
        product = self._products.get(request.product_id) if isinstance(request.product_id, str) else None
        if product is None:
            raise _reject("INVALID_PRODUCT_ID", "Invalid product_id")
        if product.trading_disabled:
            raise _reject(
                "ORDER_ENTRY_DISABLED", "Trading is disabled for this product", "PREVIEW_TRADING_DISABLED"
            )
        side = request.side
        if side not in ("BUY", "SELL"):
            raise _reject("INVALID_SIDE", "Invalid side")
        raw = request.order_configuration
        if not isinstance(raw, Mapping) or len(raw) != 1:
            raise _reject(
                "UNSUPPORTED_ORDER_CONFIGURATION",
                "order_configuration must hold exactly one order type",
                "PREVIEW_INVALID_ORDER_CONFIG",
            )
        kind, fields = next(iter(raw.items()))
        if kind not in SIMULATED_CONFIGURATIONS or not isinstance(fields, Mapping):
            detail = "is not simulated" if kind in KNOWN_CONFIGURATIONS else "is not an order configuration"
            raise _reject(
                "UNSUPPORTED_ORDER_CONFIGURATION", f"{kind} {detail}", "PREVIEW_INVALID_ORDER_CONFIG"
            )
        configuration = _echo_configuration(raw)
        base_size = _parse_decimal(fields["base_size"], "base_size") if fields.get("base_size") else None
        if kind == MARKET_IOC:
            quote_size = (
                _parse_decimal(fields["quote_size"], "quote_size") if fields.get("quote_size") else None
            )
            if (base_size is None) == (quote_size is None):
                raise _reject(
                    "INVALID_REQUEST",
                    "market orders need exactly one of quote_size and base_size",
                    "PREVIEW_INVALID_ORDER_CONFIG",
                )
            if quote_size is not None and side == "SELL":
                raise _reject(
                    "UNSUPPORTED_ORDER_CONFIGURATION",
                    "market sells are sized by base_size",
                    "PREVIEW_INVALID_ORDER_CONFIG",
                )
            parsed = _Parsed(product, side, "MARKET", configuration, base_size, quote_size, None, False)
        else:
            if base_size is None or not fields.get("limit_price"):
                raise _reject(
                    "INVALID_REQUEST",
                    "limit orders need base_size and limit_price",
                    "PREVIEW_INVALID_ORDER_CONFIG",
                )
            limit_price = _parse_decimal(fields["limit_price"], "limit_price")
            if kind == STOP_LIMIT_GTC:
                direction = fields.get("stop_direction")
                if not fields.get("stop_price") or direction not in (STOP_UP, STOP_DOWN):
                    raise _reject(
                        "INVALID_REQUEST",
                        f"stop-limit orders need stop_price and stop_direction ({STOP_UP} or {STOP_DOWN})",
                        "PREVIEW_INVALID_ORDER_CONFIG",
                    )
                stop_price = _parse_decimal(fields["stop_price"], "stop_price")
                parsed = _Parsed(
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
                parsed = _Parsed(
                    product, side, "LIMIT", configuration, base_size, None, limit_price, post_only
                )
        with localcontext() as context:
            context.prec = _PRECISION
            try:
                self._check_sizes(parsed)
            except InvalidOperation:
                raise _reject(
                    "INVALID_REQUEST", "order sizes are out of range", "PREVIEW_INVALID_ORDER_CONFIG"
                ) from None
        return parsed

    @staticmethod
    def _check_sizes(parsed: _Parsed) -> None:
        product = parsed.product
        if parsed.quote_size is not None:
            _check_size(
                parsed.quote_size,
                "quote",
                product.quote_min_size,
                product.quote_max_size,
                product.quote_increment,
                product.quote_currency,
            )
        if parsed.base_size is not None:
            _check_size(
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
                raise _reject("INVALID_LIMIT_PRICE", "limit_price must be positive")
            if price > _MAX_PRICE:
                raise _reject(
                    "INVALID_LIMIT_PRICE", "limit_price is too large", "PREVIEW_INVALID_PRICE_TOO_LARGE"
                )
            if not _on_increment(price, product.quote_increment):
                raise _reject(
                    "INVALID_PRICE_PRECISION",
                    f"limit_price is too precise: the increment is {product.quote_increment}",
                )
            stop = parsed.stop_price
            if stop is not None and (stop <= 0 or not _on_increment(stop, product.quote_increment)):
                raise _reject(
                    "INVALID_PRICE_PRECISION",
                    f"stop_price must be positive and on the increment {product.quote_increment}",
                    "PREVIEW_INVALID_STOP_PRICE",
                )
            assert parsed.base_size is not None
            if parsed.base_size * price < product.quote_min_size:
                raise _reject(
                    "UNKNOWN_FAILURE_REASON",
                    f"Order size too small: the minimum is {product.quote_min_size} {product.quote_currency}",
                    "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
                )

    def _estimate(
        self, parsed: _Parsed, bid: Decimal, ask: Decimal
    ) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(base, value before fees, fee, total spent or received) if it filled now as taker."""
        rate = self.taker_fee_rate
        with localcontext() as context:
            context.prec = _PRECISION
            if parsed.quote_size is not None:
                value = quantize_amount(parsed.quote_size / (1 + rate))
                fee = parsed.quote_size - value
                return quantize_amount(value / ask), value, fee, parsed.quote_size
            assert parsed.base_size is not None
            price = ask if parsed.side == "BUY" else bid
            if parsed.limit_price is not None and not self._crosses(
                parsed.side, parsed.limit_price, bid, ask
            ):
                price, rate = parsed.limit_price, self.maker_fee_rate
            value = parsed.base_size * price
            fee = quantize_amount(value * rate)
            total = value + fee if parsed.side == "BUY" else value - fee
            return parsed.base_size, value, fee, total

    @staticmethod
    def _crosses(side: str, limit: Decimal, bid: Decimal, ask: Decimal) -> bool:
        return ask <= limit if side == "BUY" else bid >= limit

    def _check_funds(self, parsed: _Parsed, quote: tuple[Decimal, Decimal]) -> None:
        _bid, ask = quote
        product = parsed.product
        if parsed.side == "SELL":
            needed, currency = parsed.base_size or Decimal(0), product.base_currency
        elif parsed.quote_size is not None:
            needed, currency = parsed.quote_size, product.quote_currency
        else:
            assert parsed.base_size is not None
            price = ask if parsed.limit_price is None else parsed.limit_price
            needed, currency = self._buy_hold(parsed.base_size, price), product.quote_currency
        account = self._accounts.get(currency)
        if account is None or account.available < needed:
            raise _reject("INSUFFICIENT_FUND", "Insufficient balance in source account")

    def _buy_hold(self, base: Decimal, price: Decimal) -> Decimal:
        # Held at the taker rate: the order may still fill as taker.
        with localcontext() as context:
            context.prec = _PRECISION
            value = base * price
            return value + quantize_amount(value * self.taker_fee_rate)

    def _new_order(self, request: NewOrder, parsed: _Parsed, now: float) -> SimOrder:
        self._order_seq += 1
        order = SimOrder(
            sequence=self._order_seq,
            order_id=self.new_id(),
            client_order_id=request.client_order_id,
            product_id=parsed.product.product_id,
            side=parsed.side,
            order_type=parsed.order_type,
            configuration=parsed.configuration,
            created_time=now,
            base_size=parsed.base_size,
            quote_size=parsed.quote_size,
            limit_price=parsed.limit_price,
            post_only=parsed.post_only,
            stop_price=parsed.stop_price,
            stop_direction=parsed.stop_direction,
        )
        self._orders[order.order_id] = order
        self._dirty_orders[order.order_id] = order
        self._by_client_id[order.client_order_id] = order
        log.debug("Order %s %s %s %s", order.order_id, order.side, order.order_type, order.product_id)
        return order

    def _execute_market(
        self, order: SimOrder, parsed: _Parsed, bid: Decimal, ask: Decimal, now: float
    ) -> None:
        if order.side == "BUY" and parsed.quote_size is not None:
            with localcontext() as context:
                context.prec = _PRECISION
                value = quantize_amount(parsed.quote_size / (1 + self.taker_fee_rate))
                size = quantize_amount(value / ask)
            self._fill(order, ask, size, value, maker=False, now=now, spend=parsed.quote_size)
            return
        assert parsed.base_size is not None
        self._fill(order, ask if order.side == "BUY" else bid, parsed.base_size, None, maker=False, now=now)

    def _work_limit(self, order: SimOrder, bid: Decimal, ask: Decimal, now: float) -> list[SimFill]:
        """A (new or just triggered) limit order: fill at once as taker at the touch if it crosses
        (a deep book: completely), else rest on the book with its funds on hold."""
        assert order.limit_price is not None
        if self._crosses(order.side, order.limit_price, bid, ask):
            touch = ask if order.side == "BUY" else bid
            return [self._fill(order, touch, order.remaining, None, maker=False, now=now)]
        if not order.hold:
            self._place_hold(order, now)
        self._resting.setdefault(order.product_id, {})[order.order_id] = order
        return []

    def _hold_account(self, order: SimOrder) -> Account:
        product = self._products.get(order.product_id)
        if product is not None:
            base, quote = product.base_currency, product.quote_currency
        else:  # an order restored for a product this run does not simulate
            base, _, quote = order.product_id.partition("-")
        return self._account(quote if order.side == "BUY" else base, order.created_time)

    def _place_hold(self, order: SimOrder, now: float) -> None:
        """Hold what the rest of the order can still spend (buys at the taker rate: it may fill as taker)."""
        assert order.limit_price is not None
        remaining = order.remaining
        order.hold = self._buy_hold(remaining, order.limit_price) if order.side == "BUY" else remaining
        account = self._hold_account(order)
        account.available -= order.hold
        account.hold += order.hold
        self._touched(account, now)
        self._dirty_orders[order.order_id] = order

    def _release_hold(self, order: SimOrder, now: float) -> None:
        if not order.hold:
            return
        account = self._hold_account(order)
        account.hold -= order.hold
        account.available += order.hold
        self._touched(account, now)
        order.hold = Decimal(0)
        self._dirty_orders[order.order_id] = order

    def _cancel(self, order: SimOrder, now: float, message: str) -> None:
        self._resting.get(order.product_id, {}).pop(order.order_id, None)
        self._stops.get(order.product_id, {}).pop(order.order_id, None)
        self._release_hold(order, now)
        order.status = CANCELLED
        order.cancel_message = message
        self._dirty_orders[order.order_id] = order

    def _fill(
        self,
        order: SimOrder,
        price: Decimal,
        size: Decimal,
        value: Decimal | None,
        *,
        maker: bool,
        now: float,
        spend: Decimal | None = None,
    ) -> SimFill:
        """Fill ``size`` of ``order``: move balances, record the fill; the order is FILLED when
        nothing remains, else it stays OPEN with the hold re-placed for the rest."""
        product = self._products[order.product_id]
        rate = self.maker_fee_rate if maker else self.taker_fee_rate
        with localcontext() as context:
            context.prec = _PRECISION
            if value is None:
                value = size * price
            fee = spend - value if spend is not None else quantize_amount(value * rate)
        self._release_hold(order, now)
        quote_account = self._accounts[product.quote_currency]
        base_account = self._accounts[product.base_currency]
        if order.side == "BUY":
            quote_account.available -= value + fee
            base_account.available += size
        else:
            base_account.available -= size
            quote_account.available += value - fee
        self._touched(quote_account, now)
        self._touched(base_account, now)
        self._fill_seq += 1
        fill = SimFill(
            sequence=self._fill_seq,
            entry_id=self.new_id(),
            trade_id=self.new_id(),
            order_id=order.order_id,
            product_id=order.product_id,
            side=order.side,
            price=price,
            size=size,
            commission=fee,
            liquidity_indicator="MAKER" if maker else "TAKER",
            size_in_quote=order.size_in_quote,
            time=now,
        )
        self._fills.append(fill)
        self._new_fills.append(fill)
        self._dirty_orders[order.order_id] = order
        order.filled_size += size
        order.filled_value += value
        order.total_fees += fee
        order.number_of_fills += 1
        order.last_fill_time = now
        if order.limit_price is not None and order.remaining > 0:
            self._place_hold(order, now)
        else:
            order.status = FILLED
        log.debug("Filled %s %s %s @ %s", order.order_id, order.side, size, price)
        return fill


def _within(at: float, start: datetime | None, end: datetime | None) -> bool:
    """``start <= at < end`` at the microsecond the API reports ``at`` with, so a time read from an
    order or fill and sent back as a bound selects that very order or fill."""
    if start is None and end is None:
        return True
    reported = datetime.fromtimestamp(at, UTC)
    return (start is None or reported >= start) and (end is None or reported < end)


def _echo_configuration(raw: Any) -> dict[str, dict[str, Any]]:
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
            if isinstance(value, str | bool | int | float) or value is None
        }
    return echoed
