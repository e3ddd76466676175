"""The matcher as an ``Exchange`` in the engine's own process: the backtests' venue.

The same matching rules, fees, increments and minimum sizes as the simulator (both use
``MatchingEngine``), without a wire in between. Two things make it a faithful stand-in for a
venue reached over the network:

- **Latency.** An order is not matched when it is sent but ``latency_s`` later on the clock: it
  executes on the first quote at or after decision time + latency (the caller feeds quotes in
  time order through ``quote`` before moving the clock). Zero latency executes on the decision's
  own quote.
- **Quotes reach the book lazily.** ``quote`` keeps the latest bid/ask per product (floats, as
  the feed parsed them); they become ``Decimal`` and reach the matching engine only when an order
  is placed or when orders rest on that product. A replay of a million ticks pays for the book
  only on the ticks where it matters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType

from streambot.clock import Clock
from streambot.domain import (
    Balance,
    BestBidAsk,
    Candle,
    ClientOrderId,
    ExchangeOrder,
    ExchangeOrderStatus,
    FeeTier,
    Fill,
    OrderRequest,
    PlacedOrder,
    Product,
    ProductId,
    Side,
    Ticker,
    Timeframe,
)
from streambot.exchange import ExchangeError
from streambot.venues.matcher.engine import MatchingEngine
from streambot.venues.matcher.fills import SimFill
from streambot.venues.matcher.orders import SimOrder

_STATUS: dict[str, ExchangeOrderStatus] = {
    "PENDING": ExchangeOrderStatus.PENDING,
    "QUEUED": ExchangeOrderStatus.PENDING,
    "OPEN": ExchangeOrderStatus.OPEN,
    "FILLED": ExchangeOrderStatus.FILLED,
    "CANCELLED": ExchangeOrderStatus.CANCELLED,
    "CANCEL_QUEUED": ExchangeOrderStatus.CANCEL_PENDING,
    "EXPIRED": ExchangeOrderStatus.EXPIRED,
    "FAILED": ExchangeOrderStatus.FAILED,
}
_SIDE_NAMES: dict[Side, str] = {side: side.value for side in Side}  # an enum's .value is a slow read
_SIDES: dict[str, Side] = {side.value: side for side in Side}


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _decimal(value: float) -> Decimal:
    # The shortest repr of a float parsed from "97000.01" is "97000.01": the wire's own digits.
    return Decimal(repr(value))


class MatcherExchange:
    """One account trading ``products`` on the matcher, on ``clock``'s time."""

    def __init__(
        self,
        products: Mapping[ProductId, Product],
        *,
        clock: Clock,
        starting_balances: Mapping[str, Decimal],
        fee_tier: FeeTier,
        latency_s: float = 0.05,
        seed: int = 0,
    ) -> None:
        self._clock = clock
        self._products = dict(products)
        self._fee_tier = fee_tier
        self._latency_s = latency_s
        self._engine = MatchingEngine(
            products.values(),
            starting_balances=starting_balances,
            taker_fee_rate=fee_tier.taker_fee_rate,
            maker_fee_rate=fee_tier.maker_fee_rate,
            seed=seed,
            now=clock.time(),
        )
        self._latest: dict[ProductId, Ticker] = {}
        self._latest_view = MappingProxyType(self._latest)
        self._synced: dict[ProductId, Ticker] = {}
        # Products where orders rest in the book: only their quotes must reach it at once.
        self._working: set[ProductId] = set()
        self.orders_matched = 0

    # --- the market, fed by the caller in time order -----------------------------------------

    def quote(self, tick: Ticker) -> None:
        """The product's new touch; it reaches the book now only if orders are working there."""
        product_id = tick.product_id
        self._latest[product_id] = tick
        if product_id in self._working:
            self._sync(product_id)
            self._engine.discard_changes()  # nobody persists this account: keep no change log
            if not self._engine.working(product_id):
                self._working.discard(product_id)

    def _sync(self, product_id: ProductId) -> None:
        tick = self._latest.get(product_id)
        if tick is None or self._synced.get(product_id) is tick:
            return
        self._synced[product_id] = tick
        self._engine.update_market(
            product_id,
            _decimal(tick.best_bid),
            _decimal(tick.best_ask),
            self._clock.time(),
            last=_decimal(tick.price),
        )

    @property
    def latest(self) -> Mapping[ProductId, Ticker]:
        """Each product's latest quote as fed (read-only view)."""
        return self._latest_view

    @property
    def engine(self) -> MatchingEngine:
        return self._engine

    # --- Exchange ------------------------------------------------------------------------------

    async def products(self, product_ids: list[ProductId] | None = None) -> list[Product]:
        wanted = set(product_ids) if product_ids else None
        return [p for p in self._products.values() if wanted is None or p.product_id in wanted]

    async def best_bid_ask(self, product_ids: list[ProductId]) -> list[BestBidAsk]:
        found: list[BestBidAsk] = []
        for product_id in product_ids:
            tick = self._latest.get(product_id)
            if tick is not None:
                found.append(
                    BestBidAsk(product_id, _decimal(tick.best_bid), _decimal(tick.best_ask), _utc(tick.time))
                )
        return found

    async def candles(
        self, product_id: ProductId, timeframe: Timeframe, start: int, end: int
    ) -> list[Candle]:
        # A replay knows no market before its data: strategies warm up on the data's first ticks.
        return []

    async def accounts(self) -> list[Balance]:
        return [Balance(a.currency, a.available, a.hold) for a in self._engine.accounts()]

    async def fee_tier(self) -> FeeTier:
        return self._fee_tier

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        if self._latency_s > 0:
            # On the way to the venue: the order meets the first quote at or after its arrival.
            await self._clock.sleep(self._latency_s)
        if request.product_id not in self._products:
            raise ExchangeError(f"unknown product {request.product_id}", status=404, code="NOT_FOUND")
        self._sync(request.product_id)
        if request.limit_price is not None:
            assert request.base_size is not None, "a limit order has a base size"
        # Handed over typed: the simulator's wire checks the strings a client sends; here the
        # engine gets the request's own Decimals (the same checks, refusals and order).
        result = self._engine.place_typed(
            request.client_order_id,
            request.product_id,
            _SIDE_NAMES[request.side],
            self._clock.time(),
            quote_size=request.quote_size,
            base_size=request.base_size,
            limit_price=request.limit_price,
        )
        self._engine.discard_changes()  # nobody persists this account: keep no change log
        if result.order is None:
            assert result.rejection is not None
            return PlacedOrder(
                False, "", request.client_order_id, result.rejection.error, result.rejection.message
            )
        self.orders_matched += 1
        if self._engine.working(request.product_id):
            self._working.add(request.product_id)
        return PlacedOrder(True, result.order.order_id, request.client_order_id)

    async def get_order(self, order_id: str) -> ExchangeOrder:
        order = self._engine.get_order(order_id)
        if order is None:
            raise ExchangeError(f"order {order_id} not found", status=404, code="NOT_FOUND")
        return _exchange_order(order)

    async def find_order(self, client_order_id: ClientOrderId, product_id: ProductId) -> ExchangeOrder | None:
        order = self._engine.order_for_client_id(client_order_id)
        return _exchange_order(order) if order is not None else None

    async def list_fills(self, order_id: str) -> list[Fill]:
        return [_fill(fill) for fill in self._engine.fills_of(order_id)]

    async def cancel_orders(self, order_ids: list[str]) -> dict[str, bool]:
        results = self._engine.cancel_orders(order_ids, self._clock.time())
        self._engine.discard_changes()
        return {result.order_id: result.success for result in results}

    async def close(self) -> None:
        return None

    # --- what a backtest reads back -------------------------------------------------------------

    def fills(self) -> Iterable[SimFill]:
        """Every fill not released, oldest first."""
        return reversed(self._engine.list_fills())

    def release(self, order_ids: Iterable[str]) -> dict[str, list[SimFill]]:
        """Forget done orders and their fills (``MatchingEngine.release``): a replay that keeps
        its finished orders' history itself need not keep them twice."""
        return self._engine.release(order_ids)


def _exchange_order(order: SimOrder) -> ExchangeOrder:
    return ExchangeOrder(
        order_id=order.order_id,
        client_order_id=ClientOrderId(order.client_order_id),
        product_id=order.product_id,
        side=_SIDES[order.side],
        status=_STATUS.get(order.status, ExchangeOrderStatus.UNKNOWN),
        filled_size=order.filled_size,
        average_filled_price=order.average_filled_price,
        filled_value=order.filled_value,
        total_fees=order.total_fees,
        created_time=_utc(order.created_time),
    )


def _fill(fill: SimFill) -> Fill:
    return Fill(
        trade_id=fill.trade_id,
        order_id=fill.order_id,
        product_id=fill.product_id,
        side=_SIDES[fill.side],
        price=fill.price,
        size=fill.size,
        commission=fill.commission,
        trade_time=_utc(fill.time),
    )
