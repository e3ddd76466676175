"""The matching engine: one paper account trading every product, the way Coinbase Advanced Trade
fills a retail account.

Pure: no I/O and no clock (callers pass ``now``, UNIX seconds). Money is ``Decimal``; amounts the
exchange computes (fees, sizes bought by quote) keep 16 decimal places, as Coinbase reports them.

- ``market_market_ioc`` fills at once at the best ask (buys) or best bid (sells), as taker.
  A buy by ``quote_size`` spends at most that amount, fee included (``size_inclusive_of_fees``),
  and buys a base size on the product's ``base_increment``, like Coinbase (what one increment
  more would have cost stays in the account); a buy by ``base_size`` pays the fee on top.
- ``limit_limit_gtc`` that crosses the book fills at once as taker at the touch; otherwise it rests
  (its funds on hold) and fills at its limit price, as maker, when a later quote crosses it: each
  tick fills at most the size quoted at the touch, so a large order fills in parts over several
  ticks and stays ``OPEN`` with ``filled_size > 0`` meanwhile (Coinbase has no PARTIALLY_FILLED).
- ``stop_limit_stop_limit_gtc`` waits (funds on hold) until the last price reaches its stop
  (``STOP_UP``: at or above, ``STOP_DOWN``: at or below), then behaves as the limit order above.
- ``place_order(..., pieces=K)`` executes an order that would fill at once (market, or a limit
  crossing the book) in K fills instead: the first now, each later one when the caller asks
  (``fill_piece``), at the touch of that moment; the order stays ``OPEN`` with ``filled_size``
  growing and the rest of its funds on hold until its last piece makes it ``FILLED``. A limit
  order the touch no longer crosses rests for its remainder.
- Failures carry Coinbase's ``error`` / ``preview_failure_reason`` codes; a reused
  ``client_order_id`` returns the order it first created.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, localcontext

from streambot.domain import COINBASE_ENTRY_TIER, Product
from streambot.venues.matcher.accounts import ID_NAMESPACE, Account, account_uuid
from streambot.venues.matcher.changes import Changes
from streambot.venues.matcher.fees import (
    AMOUNTS,
    PRECISION,
    buy_hold,
    fee_on,
    quantize_amount,
    value_of_quote_spend,
)
from streambot.venues.matcher.fills import SimFill
from streambot.venues.matcher.orders import (
    CANCELLED,
    FILLED,
    OPEN,
    STOP_UP,
    CancelResult,
    NewOrder,
    PlaceResult,
    Preview,
    SimOrder,
)
from streambot.venues.matcher.validation import (
    OrderRefused,
    ParsedOrder,
    echo_configuration,
    parse_new_order,
    refuse,
    typed_configuration,
    typed_order,
)

log = logging.getLogger(__name__)

# A version-4 uuid's fixed bits: the RFC 4122 variant (10) and the version (0100).
_VERSION_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_VERSION_4 = (0x8000 << 48) | (0x4000 << 64)


class MatchingEngine:
    """One paper account trading every simulated product."""

    def __init__(
        self,
        products: Iterable[Product],
        *,
        starting_balances: Mapping[str, Decimal] | None = None,
        # Coinbase's entry tier (the lowest volume): 1.20 % taker, 0.60 % maker.
        taker_fee_rate: Decimal = COINBASE_ENTRY_TIER.taker_fee_rate,
        maker_fee_rate: Decimal = COINBASE_ENTRY_TIER.maker_fee_rate,
        seed: int | None = None,
        now: float = 0.0,
    ) -> None:
        self.taker_fee_rate = taker_fee_rate
        self.maker_fee_rate = maker_fee_rate
        self.user_id = str(uuid.uuid5(ID_NAMESPACE, "user"))
        self.portfolio_id = str(uuid.uuid5(ID_NAMESPACE, "portfolio"))
        self._rng = random.Random(f"{seed}:ids") if seed is not None else None
        self._products: dict[str, Product] = {}
        self._accounts: dict[str, Account] = {}
        self._orders: dict[str, SimOrder] = {}
        self._by_client_id: dict[str, SimOrder] = {}
        self._resting: dict[str, dict[str, SimOrder]] = {}  # product -> order_id -> order
        self._stops: dict[str, dict[str, SimOrder]] = {}  # untriggered stop-limit orders
        self._sliced: dict[str, SimOrder] = {}  # order_id -> order executing in pieces
        self._fills: list[SimFill] = []
        # Each order's fills, so settling one order reads its own fills, not every fill ever made.
        self._fills_by_order: dict[str, list[SimFill]] = {}
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

    def discard_changes(self) -> None:
        """Forget what changed (an account nobody persists): ``take_changes`` without its copies."""
        if self._dirty_accounts:
            self._dirty_accounts = {}
        if self._dirty_orders:
            self._dirty_orders = {}
        if self._new_fills:
            self._new_fills = []

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
        self._sliced.clear()
        for resting in (*self._resting.values(), *self._stops.values()):
            resting.clear()
        for order in sorted(orders, key=lambda o: o.sequence):
            self._orders[order.order_id] = order
            self._by_client_id[order.client_order_id] = order
            if order.status == OPEN and (order.pieces_left > 0 or order.order_type == "MARKET"):
                # Cut off between two pieces: its remaining pieces are still to come.
                order.pieces_left = max(order.pieces_left, 1)
                self._sliced[order.order_id] = order
            elif order.status == OPEN and order.order_type != "MARKET":
                if order.stop_price is not None and not order.triggered:
                    self._stops.setdefault(order.product_id, {})[order.order_id] = order
                else:
                    self._resting.setdefault(order.product_id, {})[order.order_id] = order
        self._fills = sorted(fills, key=lambda f: f.sequence)
        self._fills_by_order = {}
        for fill in self._fills:
            self._fills_by_order.setdefault(fill.order_id, []).append(fill)
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

    def order_for_client_id(self, client_order_id: str) -> SimOrder | None:
        return self._by_client_id.get(client_order_id)

    def fills_of(self, order_id: str) -> list[SimFill]:
        """The order's fills, oldest first."""
        return list(self._fills_by_order.get(order_id, ()))

    def release(self, order_ids: Iterable[str]) -> dict[str, list[SimFill]]:
        """Forget done orders (``FILLED`` or ``CANCELLED``) and their fills; returns the fills of
        each order forgotten, oldest first. For an owner that keeps the account's history itself
        (a replay's): afterwards ``get_order``, ``fills_of`` and the listings no longer know them,
        nor does a reused ``client_order_id``. Working orders are never forgotten."""
        released: dict[str, list[SimFill]] = {}
        for order_id in order_ids:
            order = self._orders.get(order_id)
            if order is None or order.status not in (FILLED, CANCELLED) or order_id in self._sliced:
                continue
            if order_id in self._resting.get(order.product_id, ()) or order_id in self._stops.get(
                order.product_id, ()
            ):
                continue
            del self._orders[order_id]
            if self._by_client_id.get(order.client_order_id) is order:
                del self._by_client_id[order.client_order_id]
            self._dirty_orders.pop(order_id, None)
            released[order_id] = self._fills_by_order.pop(order_id, [])
        if any(released.values()):
            gone = {id(fill) for fills in released.values() for fill in fills}
            self._fills = [fill for fill in self._fills if id(fill) not in gone]
            if self._new_fills:
                self._new_fills = [fill for fill in self._new_fills if id(fill) not in gone]
        return released

    def sliced(self) -> list[SimOrder]:
        """Orders executing in pieces, with pieces still to come (oldest first)."""
        return sorted(self._sliced.values(), key=lambda o: o.sequence)

    def working(self, product_id: str) -> bool:
        """Whether orders on the product rest or wait for their stop: only then does a new quote
        need to reach the book (a venue fed every tick can skip the rest)."""
        return bool(self._resting.get(product_id) or self._stops.get(product_id))

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

    def place_order(
        self, request: NewOrder, now: float, *, pieces: int = 1, piece_interval: float = 0.0
    ) -> PlaceResult:
        """Create the order and match it. ``pieces`` > 1: one that would fill at once fills in that
        many fills, the first now and the others through ``fill_piece`` (``piece_interval``
        seconds apart is the caller's schedule, stored with the order)."""
        existing = self._by_client_id.get(request.client_order_id)
        if existing is not None:
            # Coinbase's idempotency: the same client_order_id never creates a second order.
            return PlaceResult(existing, None, existing.configuration)
        try:
            parsed, quote = self._validate(request)
        except OrderRefused as rejected:
            log.debug("Order %s rejected: %s", request.client_order_id, rejected.rejection.error)
            return PlaceResult(None, rejected.rejection, echo_configuration(request.order_configuration))
        return self._place(request.client_order_id, parsed, quote, now, pieces, piece_interval)

    def place_typed(
        self,
        client_order_id: str,
        product_id: str,
        side: str,
        now: float,
        *,
        quote_size: Decimal | None = None,
        base_size: Decimal | None = None,
        limit_price: Decimal | None = None,
    ) -> PlaceResult:
        """``place_order`` for a caller in this process whose fields are typed already: the same
        checks, refusals and order (``validation.typed_order``), without a request's strings to
        write and parse back. ``limit_price`` set: a limit GTC order, else a market IOC one."""
        existing = self._by_client_id.get(client_order_id)
        if existing is not None:
            return PlaceResult(existing, None, existing.configuration)
        try:
            parsed = typed_order(
                self._products,
                product_id,
                side,
                quote_size=quote_size,
                base_size=base_size,
                limit_price=limit_price,
            )
            quote = self._admit(parsed)
        except OrderRefused as rejected:
            log.debug("Order %s rejected: %s", client_order_id, rejected.rejection.error)
            return PlaceResult(
                None, rejected.rejection, typed_configuration(quote_size, base_size, limit_price)
            )
        return self._place(client_order_id, parsed, quote, now, 1, 0.0)

    def _place(
        self,
        client_order_id: str,
        parsed: ParsedOrder,
        quote: tuple[Decimal, Decimal],
        now: float,
        pieces: int,
        piece_interval: float,
    ) -> PlaceResult:
        bid, ask = quote
        order = self._new_order(client_order_id, parsed, now)
        if parsed.order_type == "STOP_LIMIT":
            self._place_hold(order, now)
            self._stops.setdefault(order.product_id, {})[order.order_id] = order
        elif pieces > 1 and (
            parsed.order_type == "MARKET"
            or (parsed.limit_price is not None and self._crosses(order.side, parsed.limit_price, bid, ask))
        ):
            order.pieces_left, order.piece_interval = pieces, piece_interval
            self._sliced[order.order_id] = order
            self._next_piece(order, now)
        elif parsed.order_type == "MARKET":
            self._execute_market(order, parsed, bid, ask, now)
        else:
            self._work_limit(order, bid, ask, now)
        return PlaceResult(order, None, order.configuration)

    def fill_piece(self, order_id: str, now: float) -> SimFill | None:
        """The next piece of an order executing in pieces, at the touch of now (None: no fill,
        because the order is done, cancelled, or a limit the touch no longer crosses, which now
        rests for the rest of its size)."""
        order = self._sliced.get(order_id)
        if order is None:
            return None
        if order.limit_price is not None:
            bid, ask = self._touch(order.product_id)
            if not self._crosses(order.side, order.limit_price, bid, ask):
                self._stop_slicing(order)
                self._release_hold(order, now)
                self._work_limit(order, bid, ask, now)
                return None
        return self._next_piece(order, now)

    def preview_order(self, request: NewOrder) -> Preview:
        try:
            parsed, (bid, ask) = self._validate(request)
        except OrderRefused as rejected:
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
            # str(uuid.UUID(int=bits, version=4)), written out: the same text at a fraction of the cost.
            bits = (self._rng.getrandbits(128) & _VERSION_CLEAR) | _VERSION_4
            text = f"{bits:032x}"
            return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
        return str(uuid.uuid4())

    def _validate(self, request: NewOrder) -> tuple[ParsedOrder, tuple[Decimal, Decimal]]:
        parsed = parse_new_order(request, self._products)
        return parsed, self._admit(parsed)

    def _admit(self, parsed: ParsedOrder) -> tuple[Decimal, Decimal]:
        """The touch a checked order meets, once the market and the funds allow it."""
        quote = self._touch(parsed.product.product_id)
        if (
            parsed.post_only
            and parsed.limit_price is not None
            and self._crosses(parsed.side, parsed.limit_price, *quote)
        ):
            raise refuse("INVALID_LIMIT_PRICE_POST_ONLY", "Post-only order would cross the book")
        self._check_funds(parsed, quote)
        return quote

    def _touch(self, product_id: str) -> tuple[Decimal, Decimal]:
        quote = self._quotes.get(product_id)
        if quote is None:
            raise refuse("INVALID_NO_LIQUIDITY", "no market for this product yet")
        return quote

    def _estimate(
        self, parsed: ParsedOrder, bid: Decimal, ask: Decimal
    ) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(base, value before fees, fee, total spent or received) if it filled now as taker."""
        rate = self.taker_fee_rate
        with localcontext() as context:
            context.prec = PRECISION
            if parsed.quote_size is not None:
                size, value, fee = self._quote_buy(parsed.product, parsed.quote_size, ask)
                return size, value, fee, value + fee
            assert parsed.base_size is not None
            price = ask if parsed.side == "BUY" else bid
            if parsed.limit_price is not None and not self._crosses(
                parsed.side, parsed.limit_price, bid, ask
            ):
                price, rate = parsed.limit_price, self.maker_fee_rate
            value = parsed.base_size * price
            fee = fee_on(value, rate)
            total = value + fee if parsed.side == "BUY" else value - fee
            return parsed.base_size, value, fee, total

    @staticmethod
    def _crosses(side: str, limit: Decimal, bid: Decimal, ask: Decimal) -> bool:
        return ask <= limit if side == "BUY" else bid >= limit

    def _check_funds(self, parsed: ParsedOrder, quote: tuple[Decimal, Decimal]) -> None:
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
            raise refuse("INSUFFICIENT_FUND", "Insufficient balance in source account")

    def _quote_buy(self, product: Product, spend: Decimal, ask: Decimal) -> tuple[Decimal, Decimal, Decimal]:
        """(base, value, fee) of a market buy spending at most ``spend`` quote, fee included: the
        base rounded down onto the product's increment, as Coinbase fills it (never 16-place dust)."""
        amounts = AMOUNTS  # the PRECISION-digit arithmetic, passed to each operation
        rate = self.taker_fee_rate
        size = quantize_amount(amounts.divide(value_of_quote_spend(spend, rate), ask))
        increment = product.base_increment
        if increment > 0:
            steps = amounts.divide(size, increment).to_integral_value(rounding=ROUND_DOWN, context=amounts)
            size = amounts.multiply(steps, increment)
        value = quantize_amount(amounts.multiply(size, ask))
        fee = fee_on(value, rate)
        if amounts.add(value, fee) > spend:  # the fee rounding can never overspend
            fee = amounts.subtract(spend, value)
        return size, value, fee

    def _buy_hold(self, base: Decimal, price: Decimal) -> Decimal:
        return buy_hold(base, price, self.taker_fee_rate)

    def _new_order(self, client_order_id: str, parsed: ParsedOrder, now: float) -> SimOrder:
        self._order_seq += 1
        order = SimOrder(
            sequence=self._order_seq,
            order_id=self.new_id(),
            client_order_id=client_order_id,
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
        self, order: SimOrder, parsed: ParsedOrder, bid: Decimal, ask: Decimal, now: float
    ) -> None:
        if order.side == "BUY" and parsed.quote_size is not None:
            size, value, fee = self._quote_buy(parsed.product, parsed.quote_size, ask)
            self._fill(order, ask, size, value, maker=False, now=now, spend=value + fee)
            return
        assert parsed.base_size is not None
        self._fill(order, ask if order.side == "BUY" else bid, parsed.base_size, None, maker=False, now=now)

    def _stop_slicing(self, order: SimOrder) -> None:
        self._sliced.pop(order.order_id, None)
        order.pieces_left = 0
        self._dirty_orders[order.order_id] = order

    def _next_piece(self, order: SimOrder, now: float) -> SimFill | None:
        """Fill an equal share of what is left (all of it with the last piece) at the touch, as
        taker; a share too small for one base increment is folded into the last piece."""
        product = self._products[order.product_id]
        bid, ask = self._touch(order.product_id)
        count = order.pieces_left  # this one included
        order.pieces_left -= 1
        if order.quote_size is not None:
            with localcontext() as context:
                context.prec = PRECISION
                left = order.quote_size - order.filled_value - order.total_fees
                size, value, fee = self._quote_buy(product, left / count, ask)
                if size <= 0 and count > 1:
                    order.pieces_left, count = 0, 1
                    size, value, fee = self._quote_buy(product, left, ask)
            if size <= 0:  # what is left buys not one increment: done, as Coinbase leaves it
                self._stop_slicing(order)
                self._release_hold(order, now)
                order.status = FILLED
                return None
            fill = self._fill(order, ask, size, value, maker=False, now=now, spend=value + fee)
        else:
            remaining = order.remaining
            increment = product.base_increment
            size = remaining / count
            if increment > 0:
                size = max(size.quantize(increment, rounding=ROUND_DOWN), increment)
            if count == 1 or size >= remaining:
                order.pieces_left, size = 0, remaining
            fill = self._fill(order, ask if order.side == "BUY" else bid, size, None, maker=False, now=now)
        if order.pieces_left <= 0:
            self._stop_slicing(order)
        return fill

    def _hold_rest(self, order: SimOrder, now: float) -> None:
        """Hold what the pieces still to come may spend: the rest of a quote-sized buy's amount, a
        sell's unsold base, a base-sized buy's rest at the taker rate (at its limit or the ask)."""
        if order.side == "SELL":
            hold = order.remaining
        elif order.quote_size is not None:
            hold = order.quote_size - order.filled_value - order.total_fees
        else:
            price = order.limit_price if order.limit_price is not None else self._touch(order.product_id)[1]
            hold = self._buy_hold(order.remaining, price)
        order.hold = max(hold, Decimal(0))
        account = self._hold_account(order)
        account.available -= order.hold
        account.hold += order.hold
        self._touched(account, now)
        self._dirty_orders[order.order_id] = order

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
        if order.order_id in self._sliced:
            self._stop_slicing(order)
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
        if value is None:
            value = AMOUNTS.multiply(size, price)
        fee = AMOUNTS.subtract(spend, value) if spend is not None else fee_on(value, rate)
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
        self._fills_by_order.setdefault(fill.order_id, []).append(fill)
        self._dirty_orders[order.order_id] = order
        order.filled_size += size
        order.filled_value += value
        order.total_fees += fee
        order.number_of_fills += 1
        order.last_fill_time = now
        if order.pieces_left > 0:
            self._hold_rest(order, now)
        elif order.limit_price is not None and order.remaining > 0:
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
