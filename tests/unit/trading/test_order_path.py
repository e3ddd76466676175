"""The order path on a ManualClock, with an exchange and a store in memory: guards, timestamps,
fills booked once, and an order that rests polled on the clock until the timeout."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from streambot.bus import Bus, InProcessBus
from streambot.clock import ManualClock
from streambot.domain import (
    Balance,
    BotId,
    ClientOrderId,
    ExchangeOrder,
    ExchangeOrderStatus,
    FeedState,
    Fill,
    OrderRecord,
    OrderRequest,
    OrderStatus,
    PlacedOrder,
    ProductHold,
    Side,
    Signal,
    Ticker,
)
from streambot.evaluator import BotRuntime
from streambot.events import Event, FeedStateChanged, TradeBooked
from streambot.exchange import ExchangeError, OrderOutcomeUnknown
from streambot.risk.base import RiskLimits
from streambot.risk.engine import RiskEngine
from streambot.strategies.base import BotContext
from streambot.trading.balances import BalanceCache
from streambot.trading.holds import ProductHolds
from streambot.trading.order_path import OrderPath, assemble_order_path
from tests.unit.risk.support import BTC, MemoryRiskStore

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
BOT = BotId(7)
PRICE = Decimal(50_000)
ZERO = Decimal(0)


class MemoryExchange:
    """Fills a market order at once (``rest`` False) or leaves it open."""

    def __init__(self, clock: ManualClock, *, rest: bool = False) -> None:
        self._clock = clock
        self.rest = rest
        self.orders: dict[str, ExchangeOrder] = {}
        self.fills: dict[str, list[Fill]] = {}
        self.gets = 0

    async def accounts(self) -> list[Balance]:
        return [Balance("USD", Decimal(10_000), Decimal(0))]

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        order_id = f"x-{len(self.orders) + 1}"
        quote = request.quote_size or Decimal(0)
        size = (quote / PRICE).quantize(Decimal("0.00000001"))
        if request.base_size is not None:  # a sell of a base amount
            size, quote = request.base_size, request.base_size * PRICE
        if self.rest:
            order = ExchangeOrder(
                order_id,
                request.client_order_id,
                request.product_id,
                request.side,
                ExchangeOrderStatus.OPEN,
                ZERO,
                ZERO,
                ZERO,
                ZERO,
            )
        else:
            fee = (quote * Decimal("0.006")).quantize(Decimal("0.0001"))
            order = ExchangeOrder(
                order_id,
                request.client_order_id,
                request.product_id,
                request.side,
                ExchangeOrderStatus.FILLED,
                size,
                PRICE,
                quote,
                fee,
            )
            fill = Fill(
                f"t-{order_id}",
                order_id,
                request.product_id,
                request.side,
                PRICE,
                size,
                fee,
                self._clock.now(),
            )
            self.fills[order_id] = [fill]
        self.orders[order_id] = order
        return PlacedOrder(True, order_id, request.client_order_id)

    async def get_order(self, order_id: str) -> ExchangeOrder:
        self.gets += 1
        return self.orders[order_id]

    async def list_fills(self, order_id: str) -> list[Fill]:
        return self.fills.get(order_id, [])


class MemoryTradingStore:
    def __init__(self) -> None:
        self.orders: dict[str, OrderRecord] = {}
        self.fills: dict[str, Fill] = {}
        self.fill_bots: dict[str, int] = {}
        self.trades: list[Any] = []
        self.seq = 0

    async def insert_order_with_seq(self, bot_id: int, make: Callable[[int], OrderRecord]) -> OrderRecord:
        self.seq += 1
        order = self.orders[make(self.seq).client_order_id] = make(self.seq)
        return order

    async def update_order(self, client_order_id: str, **changes: Any) -> OrderRecord:
        order = self.orders[client_order_id] = replace(self.orders[client_order_id], **changes)
        return order

    async def get_orders(self, client_order_ids: Collection[str]) -> dict[str, OrderRecord]:
        return {c: self.orders[c] for c in client_order_ids if c in self.orders}

    async def unresolved_orders(self) -> list[OrderRecord]:
        return [o for o in self.orders.values() if not o.status.is_final]

    async def submitted_since(self, since: datetime) -> list[tuple[int, datetime]]:
        return []

    async def final_orders_without_their_trade(self) -> list[OrderRecord]:
        booked = {trade.client_order_id: trade.base_size for trade in self.trades}
        return [
            o
            for o in self.orders.values()
            if o.status.is_final and o.filled_size > 0 and booked.get(o.client_order_id) != o.filled_size
        ]

    async def insert_fill(self, fill: Fill, *, bot_id: int, client_order_id: str) -> bool:
        if fill.trade_id in self.fills:
            return False
        self.fills[fill.trade_id] = fill
        self.fill_bots[fill.trade_id] = bot_id
        return True

    async def fills_for_bot(self, bot_id: int) -> list[Fill]:
        return [f for trade_id, f in self.fills.items() if self.fill_bots[trade_id] == bot_id]

    async def upsert_trade(self, trade: Any) -> Any:
        self.trades.append(trade)
        return trade


class MemoryHoldStore:
    def __init__(self) -> None:
        self.holds: dict[str, ProductHold] = {}

    async def product_holds(self) -> list[ProductHold]:
        return list(self.holds.values())

    async def save_product_hold(self, hold: ProductHold) -> None:
        self.holds[hold.product_id] = hold

    async def delete_product_hold(self, product_id: str) -> bool:
        return self.holds.pop(product_id, None) is not None


def _desk(
    clock: ManualClock, exchange: MemoryExchange, **settings: Any
) -> tuple[OrderPath, MemoryTradingStore, Bus]:
    bus = InProcessBus(clock)
    store = MemoryTradingStore()
    risk = RiskEngine(RiskLimits(), MemoryRiskStore(), publish=bus.publish, clock=clock)
    path = assemble_order_path(
        bus=bus,
        exchange=exchange,  # type: ignore[arg-type]  # the calls the order path makes, no more
        store=store,
        balances=BalanceCache(exchange.accounts, clock=clock),
        risk=risk,
        holds=ProductHolds(store=MemoryHoldStore(), bus=bus, clock=clock),
        products={BTC.product_id: BTC},
        clock=clock,
        instance_id="unit",
        **settings,
    )
    bus.publish(FeedStateChanged(state=FeedState.LIVE, reason="test", since=clock.time()))
    return path, store, bus


class _Idle:
    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        return None


def _bot(clock: ManualClock) -> BotRuntime:
    return BotRuntime(
        BOT, "unit bot", "idle", _Idle(), BotContext(BOT, BTC.product_id, Decimal(1000), clock=clock)
    )


def _tick(clock: ManualClock) -> Ticker:
    price = float(PRICE)
    return Ticker(
        product_id=BTC.product_id,
        price=price,
        best_bid=price,
        best_ask=price,
        volume_24h=0.0,
        low_24h=0.0,
        high_24h=0.0,
        price_change_pct_24h=0.0,
        time=clock.time(),
        received_ns=0,
        sequence=0,
    )


BUY = Signal(Side.BUY, "unit", quote_size=Decimal(100))


async def test_a_signal_is_placed_filled_and_booked_with_the_clocks_timestamps() -> None:
    clock = ManualClock(START)
    exchange = MemoryExchange(clock)
    path, store, bus = _desk(clock, exchange, cooldown_s=5.0)
    seen: list[Event] = []
    bus.subscribe("orders", seen.append)
    bot = _bot(clock)

    path.on_signal(bot, BUY, _tick(clock))
    assert bot.ctx.order_in_flight
    await path.drain()

    (order,) = store.orders.values()
    assert order.client_order_id == ClientOrderId(f"sb-unit-{BOT}-1")
    assert order.status is OrderStatus.FILLED
    assert order.created_at == order.submitted_at == order.completed_at == START
    assert [e.topic for e in seen] == [
        "orders.intent",
        "orders.risk_checked",
        "orders.submitted",
        "orders.acknowledged",
        "orders.filled",
    ]
    assert bot.ctx.position.base == order.filled_size
    assert path.orders_filled == 1
    assert len(store.trades) == 1
    assert not bot.ctx.order_in_flight
    assert len(path.open_orders) == 0


async def test_a_booked_trade_carries_what_its_fills_realized_in_the_bots_position() -> None:
    clock = ManualClock(START)
    path, _, bus = _desk(clock, MemoryExchange(clock), cooldown_s=0.0)
    booked: list[TradeBooked] = []
    bus.subscribe(TradeBooked, booked.append)
    bot = _bot(clock)
    path.on_signal(bot, BUY, _tick(clock))
    await path.drain()
    path.on_signal(bot, Signal(Side.SELL, "unit", budget_pct=Decimal(50)), _tick(clock))
    await path.drain()

    buy, sell = booked
    assert buy.realized_pnl == 0
    assert sell.realized_pnl is not None
    assert sell.realized_pnl < 0  # the same price: the fees are lost
    assert sell.realized_pnl == bot.ctx.position.realized_pnl


async def test_the_cooldown_runs_on_the_clock() -> None:
    clock = ManualClock(START)
    path, store, _ = _desk(clock, MemoryExchange(clock), cooldown_s=5.0)
    bot = _bot(clock)
    path.on_signal(bot, BUY, _tick(clock))
    await path.drain()
    clock.advance_by(4.9)
    path.on_signal(bot, BUY, _tick(clock))
    assert path.signals_ignored == 1
    clock.advance_by(0.1)
    path.on_signal(bot, BUY, _tick(clock))
    await path.drain()
    assert path.signals_ignored == 1
    assert len(store.orders) == 2


async def test_an_order_that_rests_is_polled_on_the_clock_until_the_timeout() -> None:
    clock = ManualClock(START)
    exchange = MemoryExchange(clock, rest=True)
    path, store, _ = _desk(clock, exchange, fill_timeout=10.0)
    bot = _bot(clock)
    path.on_signal(bot, BUY, _tick(clock))
    for _ in range(30):  # a second at a time, letting the order path run in between
        await clock.run_for(1)
    await path.drain()
    (order,) = store.orders.values()
    assert order.status is OrderStatus.ACKNOWLEDGED  # still open: reconciliation follows it
    # 0.05, 0.1, ... doubling up to 1 s between lookups: a handful over ten seconds, not 200.
    assert exchange.gets == 15, exchange.gets
    assert clock.monotonic() == 30
    assert len(path.open_orders) == 1


class LostAnswers(MemoryExchange):
    """Takes the order (``creates``) but the answer never arrives; lookups fail ``failing`` times."""

    def __init__(self, clock: ManualClock, *, creates: bool = True, failing: int = 0) -> None:
        super().__init__(clock)
        self.creates = creates
        self.failing = failing
        self.placed = 0
        self.lookups = 0

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        self.placed += 1
        if self.creates:
            await super().place_order(request)
        raise OrderOutcomeUnknown("timed out after 10s")

    async def find_order(self, client_order_id: ClientOrderId, product_id: str) -> ExchangeOrder | None:
        self.lookups += 1
        if self.failing:
            self.failing -= 1
            raise ExchangeError("502 from the exchange", status=502)
        return next((o for o in self.orders.values() if o.client_order_id == client_order_id), None)


async def test_an_unknown_outcome_stays_unknown_blocks_the_bot_and_is_adopted_when_found() -> None:
    clock = ManualClock(START)
    exchange = LostAnswers(clock, failing=4)
    path, store, bus = _desk(clock, exchange)
    seen: list[Event] = []
    bus.subscribe("orders", seen.append)
    bot = _bot(clock)

    path.on_signal(bot, BUY, _tick(clock))
    await clock.run_for(2)  # lookups at 0.5 and 1.5 s fail
    (order,) = store.orders.values()
    assert order.status is OrderStatus.UNKNOWN
    assert not order.status.is_final
    assert order.error_code == "UNKNOWN_OUTCOME"
    assert path.open_orders.unknown_order(BOT, BTC.product_id) == order.client_order_id
    # No new order for this bot on this product while the outcome is unknown.
    bot.ctx.order_in_flight = False  # even if the in-flight guard let it through
    path.on_signal(bot, BUY, _tick(clock))
    assert path.signals_ignored == 1
    bot.ctx.order_in_flight = True

    await clock.run_for(20)  # 3.5 s and 7.5 s fail, 15.5 s finds it
    await path.drain()
    (order,) = store.orders.values()
    assert order.status is OrderStatus.FILLED
    assert order.exchange_order_id == "x-1"
    assert order.error_code == ""
    assert exchange.placed == 1
    assert exchange.lookups == 5
    assert len(store.fills) == 1
    assert bot.ctx.position.base == order.filled_size == sum(f.size for f in store.fills.values())
    assert path.open_orders.unknown_order(BOT, BTC.product_id) is None
    assert [e.topic for e in seen][2:] == [
        "orders.submitted",
        "orders.unknown",
        "orders.acknowledged",
        "orders.filled",
    ]
    assert not bot.ctx.order_in_flight


async def test_an_order_the_exchange_never_saw_fails_only_after_the_grace_period() -> None:
    clock = ManualClock(START)
    exchange = LostAnswers(clock, creates=False)
    path, store, _ = _desk(clock, exchange, unknown_grace_s=30.0)
    bot = _bot(clock)

    path.on_signal(bot, BUY, _tick(clock))
    await clock.run_for(29)
    (order,) = store.orders.values()
    assert order.status is OrderStatus.UNKNOWN  # not listed yet: it may still arrive
    await clock.run_for(60)
    await path.drain()
    (order,) = store.orders.values()
    assert order.status is OrderStatus.FAILED
    assert order.error_code == "NEVER_SUBMITTED"
    assert exchange.placed == 1  # looked up, never sent again
    assert len(path.open_orders) == 0
    assert path.open_orders.unknown_order(BOT, BTC.product_id) is None


async def test_closing_leaves_an_unresolved_order_unknown_for_reconciliation() -> None:
    clock = ManualClock(START)
    exchange = LostAnswers(clock, failing=1000)
    path, store, _ = _desk(clock, exchange)
    bot = _bot(clock)
    path.on_signal(bot, BUY, _tick(clock))
    for _ in range(100):
        await clock.run_for(1)
    await path.close()
    (order,) = store.orders.values()
    assert order.status is OrderStatus.UNKNOWN
    assert exchange.lookups < 12  # backing off up to 30 s between lookups


def test_amounts_in_the_log_are_on_the_increment_in_plain_notation() -> None:
    from streambot.trading.settlement import shown_amount

    assert shown_amount(Decimal("3600.000001"), Decimal("0.01")) == "3600"
    assert shown_amount(Decimal("0.068620991"), Decimal("0.00000001")) == "0.06862099"
    assert shown_amount(Decimal("1E+3"), None) == "1000"
