"""Reconciliation against the simulator: what a crash left behind is booked, never sent twice."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from streambot.bus import InProcessBus
from streambot.clock import SystemClock
from streambot.domain import (
    Balance,
    BestBidAsk,
    BotId,
    BotRecord,
    Candle,
    ClientOrderId,
    ExchangeOrder,
    FeedState,
    FeeTier,
    Fill,
    OrderRecord,
    OrderRequest,
    OrderStatus,
    PlacedOrder,
    Position,
    Product,
    ProductId,
    Side,
    Timeframe,
    Trade,
)
from streambot.evaluator import BotRuntime
from streambot.events import FeedStateChanged
from streambot.exchange import Exchange
from streambot.risk.base import RiskLimits
from streambot.risk.engine import RiskEngine
from streambot.simulator.server import Simulator, SimulatorConfig
from streambot.store.database import Store
from streambot.strategies.base import BotContext
from streambot.trading.balances import BalanceCache
from streambot.trading.holds import ProductHolds
from streambot.trading.kill_switch import KillSwitch
from streambot.trading.open_orders import OpenOrders
from streambot.trading.order_path import OrderPath
from streambot.trading.reconcile import NEVER_SUBMITTED, Reconciler
from streambot.trading.settlement import OrderOwner, Settler
from streambot.venues.coinbase.client import CoinbaseRest
from streambot.venues.coinbase.rate_limit import RateLimiter
from tests.integration.trading.conftest import Trading

pytestmark = pytest.mark.integration


async def _quiet_bot(trading: Trading) -> BotId:
    """A running bot whose strategy never trades: the test places its orders."""
    bots = trading.p.bots
    assert bots is not None
    record = await bots.create(
        name="quiet",
        strategy="threshold",
        product_id="BTC-USD",
        params={"buy_below": 1, "sell_above": 1e12},
        budget=Decimal(1000),
    )
    await bots.start(record.id)
    return record.id


async def _intent(trading: Trading, bot_id: BotId, quote: str) -> OrderRecord:
    """An order stored as the order path stores it just before sending."""
    prefix = f"sb-{trading.p.instance_id}-{bot_id}-"
    now = trading.p.clock.now()
    return await trading.p.store.insert_order_with_seq(
        bot_id,
        lambda seq: OrderRecord(
            client_order_id=ClientOrderId(f"{prefix}{seq}"),
            bot_id=bot_id,
            product_id="BTC-USD",
            side=Side.BUY,
            status=OrderStatus.RISK_CHECKED,
            reason="test",
            created_at=now,
            quote_size=Decimal(quote),
            risk_checked_at=now,
        ),
    )


async def _bought_at_the_exchange(trading: Trading) -> tuple[BotId, OrderRecord, ExchangeOrder]:
    """A running bot's buy, stored as an intent and filled at the exchange; nothing booked yet."""
    await trading.start()
    bot_id = await _quiet_bot(trading)
    order = await _intent(trading, bot_id, "40")
    exchange = trading.p.exchange
    assert exchange is not None
    placed = await exchange.place_order(
        OrderRequest(order.client_order_id, "BTC-USD", Side.BUY, quote_size=Decimal(40))
    )
    return bot_id, order, await exchange.get_order(placed.order_id)


async def test_an_order_that_never_left_is_marked_failed(trading: Trading) -> None:
    await trading.start()
    bot_id = await _quiet_bot(trading)
    order = await _intent(trading, bot_id, "25")
    report = await trading.p.trading.reconciler.run_once()
    assert report.never_submitted == 1
    stored = await trading.p.store.get_order(order.client_order_id)
    assert stored is not None
    assert stored.status is OrderStatus.FAILED
    assert stored.error_code == "NEVER_SUBMITTED"
    assert await trading.p.store.unresolved_orders() == []
    assert len(trading.p.trading.open_orders) == 0


async def test_an_order_sent_before_a_crash_is_found_by_client_order_id_and_booked_once(
    trading: Trading,
) -> None:
    # Sent, and then the answer was lost: the store never heard of the exchange's order id.
    bot_id, order, placed = await _bought_at_the_exchange(trading)
    exchange = trading.p.exchange
    assert exchange is not None

    reconciler = trading.p.trading.reconciler
    report = await reconciler.run_once()
    assert report.settled == 1
    stored = await trading.p.store.get_order(order.client_order_id)
    assert stored is not None
    assert stored.status is OrderStatus.FILLED
    assert stored.exchange_order_id == placed.order_id
    fills = await trading.p.store.fills_for_bot(bot_id)
    assert fills
    assert sum(f.size for f in fills) == stored.filled_size
    bots = trading.p.bots
    assert bots is not None
    assert bots.position(bot_id).base == sum(f.size for f in fills)
    trades = await trading.p.store.list_trades(bot_id=bot_id)
    assert [t.client_order_id for t in trades] == [order.client_order_id]

    # Settling the same order again books nothing twice.
    settler = trading.p.trading.settler
    found = await exchange.get_order(placed.order_id)
    await settler.settle(stored, found, OrderOwner(bots.context(bot_id), "quiet"))
    assert len(await trading.p.store.fills_for_bot(bot_id)) == len(fills)
    assert bots.position(bot_id).base == sum(f.size for f in fills)
    assert (await reconciler.run_once()).checked == 0


# --- batch reads: a desk of its own, so hundreds of orders are placed in well under a second ------


class _OneBot:
    """The bot directory of a desk with one bot, whose context every fill moves."""

    def __init__(self, ctx: BotContext) -> None:
        self.ctx = ctx

    async def list(self) -> list[BotRecord]:
        return []

    def position(self, bot_id: BotId) -> Position:
        return self.ctx.position

    def context(self, bot_id: BotId) -> BotContext | None:
        return self.ctx

    def runtime(self, bot_id: BotId) -> BotRuntime | None:
        return None


@dataclass
class Desk:
    """The simulator on loopback, a SQLite store and the settler, as the bench wires them.

    ``setup`` places the orders with a generous client-side limit (the simulator's own limits are
    off); ``exchange`` is the client reconciliation uses, with the production rate limiter.
    """

    simulator: Simulator
    store: Store
    exchange: CoinbaseRest
    setup: CoinbaseRest
    clock: SystemClock
    risk: RiskEngine
    open_orders: OpenOrders
    settler: Settler
    bots: _OneBot
    bot_id: BotId
    position: Position

    def reconciler(
        self, exchange: Exchange | None = None, *, unacknowledged_grace_s: float = 0.0
    ) -> Reconciler:
        return Reconciler(
            store=self.store,
            exchange=exchange or self.exchange,
            settler=self.settler,
            bots=self.bots,
            in_flight=frozenset(),
            clock=self.clock,
            unacknowledged_grace_s=unacknowledged_grace_s,
        )

    def kill_switch(self) -> KillSwitch:
        return KillSwitch(
            risk=self.risk, open_orders=self.open_orders, store=self.store, exchange=self.exchange
        )

    def order_path(self, *, fill_timeout: float) -> OrderPath:
        bus = InProcessBus(self.clock)
        path = OrderPath(
            bus=bus,
            exchange=self.exchange,
            store=self.store,
            balances=BalanceCache(self.exchange.accounts, clock=self.clock),
            risk=self.risk,
            open_orders=self.open_orders,
            settler=self.settler,
            holds=ProductHolds(store=self.store, bus=bus, clock=self.clock),
            products={},
            clock=self.clock,
            instance_id="patient",
            fill_timeout=fill_timeout,
        )
        bus.publish(FeedStateChanged(state=FeedState.LIVE, reason="test", since=self.clock.time()))
        return path

    async def place(
        self,
        index: int,
        *,
        price: Decimal,
        store_as: OrderStatus = OrderStatus.ACKNOWLEDGED,
        send: bool = True,
        keep_id: bool = True,
        created_at: datetime | None = None,
    ) -> OrderRecord:
        """One limit buy: sent (or not) and stored as the order path would have left it."""
        client_order_id = ClientOrderId(f"desk-{index}")
        order_id = ""
        if send:
            placed = await self.setup.place_order(
                OrderRequest(client_order_id, PRODUCT, Side.BUY, base_size=SIZE, limit_price=price)
            )
            assert placed.success, placed
            order_id = placed.order_id if keep_id else ""
        record = OrderRecord(
            client_order_id=client_order_id,
            bot_id=self.bot_id,
            product_id=PRODUCT,
            side=Side.BUY,
            status=store_as,
            reason="test",
            created_at=created_at or self.clock.now(),
            base_size=SIZE,
            limit_price=price,
            exchange_order_id=order_id,
        )
        await self.store.insert_order(record)
        return record

    async def prices(self) -> tuple[Decimal, Decimal]:
        """A price that rests (half the bid) and one that fills at once (well above the ask)."""
        book = (await self.setup.best_bid_ask([PRODUCT]))[0]
        return (book.bid / 2).quantize(Decimal("0.01")), (book.ask * Decimal("1.05")).quantize(
            Decimal("0.01")
        )


PRODUCT = "BTC-USD"
SIZE = Decimal("0.0001")


def _requests(client: CoinbaseRest, endpoint: str | None = None) -> int:
    return sum(n for (path, _), n in client.requests.items() if endpoint is None or path == endpoint)


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    simulator = Simulator(SimulatorConfig(products=(PRODUCT,), seed=4, rate_limits=False))
    await simulator.start("127.0.0.1", 0)
    store = Store(f"sqlite+aiosqlite:///{(tmp_path / 'desk.db').as_posix()}", clock=SystemClock())
    await store.open()
    exchange = CoinbaseRest(simulator.rest_url, clock=SystemClock())
    setup = CoinbaseRest(
        simulator.rest_url,
        clock=SystemClock(),
        private_limiter=RateLimiter("setup", 100_000, clock=SystemClock()),
    )
    try:
        clock = SystemClock()
        bus = InProcessBus(clock)
        risk = RiskEngine(RiskLimits(), store, publish=bus.publish, clock=clock)
        open_orders = OpenOrders()
        settler = Settler(
            bus=bus,
            exchange=exchange,
            store=store,
            open_orders=open_orders,
            risk=risk,
            products={},
            clock=clock,
        )
        bot = await store.create_bot("desk", "threshold", PRODUCT, {}, Decimal(10_000))
        ctx = BotContext(bot_id=bot.id, product_id=PRODUCT, budget=Decimal(10_000), clock=clock)
        yield Desk(
            simulator,
            store,
            exchange,
            setup,
            clock,
            risk,
            open_orders,
            settler,
            _OneBot(ctx),
            bot.id,
            ctx.position,
        )
    finally:
        await setup.close()
        await exchange.close()
        await store.close()
        await simulator.stop()


async def _booked_exactly_once(desk: Desk) -> list[Fill]:
    """Every fill stored once, the position their sum, every trade's size its order's fills."""
    fills = await desk.store.fills_for_bot(desk.bot_id)
    assert len({f.trade_id for f in fills}) == len(fills)
    assert desk.position.base == sum((f.size for f in fills), Decimal(0))
    return fills


async def test_hundreds_of_orders_are_reconciled_with_a_few_batch_requests(desk: Desk) -> None:
    rests, crosses = await desk.prices()
    semaphore = asyncio.Semaphore(16)

    async def resting(i: int) -> OrderRecord:
        async with semaphore:
            return await desk.place(i, price=rests)

    open_orders = await asyncio.gather(*(resting(i) for i in range(200)))
    # While the process was down: some filled, some were cancelled, one answer was lost.
    filled = [await desk.place(1000 + i, price=crosses) for i in range(20)]
    cancelled = [await desk.place(2000 + i, price=rests) for i in range(10)]
    outcome = await desk.setup.cancel_orders([o.exchange_order_id for o in cancelled])
    assert all(outcome.values())
    lost = [
        await desk.place(3000 + i, price=crosses, store_as=OrderStatus.RISK_CHECKED, keep_id=False)
        for i in range(5)
    ]
    never_sent = [
        await desk.place(4000 + i, price=rests, store_as=OrderStatus.RISK_CHECKED, send=False)
        for i in range(3)
    ]

    report = await desk.reconciler().run_once()

    assert report.checked == 238
    assert report.still_open == 200
    assert report.settled == 20 + 10 + 5
    assert report.never_submitted == 3
    assert report.errors == 0, report.problems
    assert report.batched == 235
    assert report.looked_up == 3  # only the orders the exchange never saw
    # No order was read on its own; 238 orders took a handful of list requests (one per order before).
    assert _requests(desk.exchange, "/orders/historical/{order_id}") == 0
    assert _requests(desk.exchange, "/orders/historical/fills") == 1
    assert _requests(desk.exchange) <= 20, desk.exchange.requests
    assert _requests(desk.exchange, "/orders") == 0  # nothing was sent again

    for order in filled + lost:
        stored = await desk.store.get_order(order.client_order_id)
        assert stored is not None
        assert stored.status is OrderStatus.FILLED
        assert stored.filled_size == SIZE
        assert stored.exchange_order_id
    for order in cancelled:
        stored = await desk.store.get_order(order.client_order_id)
        assert stored is not None
        assert stored.status is OrderStatus.CANCELLED
    for order in never_sent:
        stored = await desk.store.get_order(order.client_order_id)
        assert stored is not None
        assert stored.status is OrderStatus.FAILED
        assert stored.error_code == NEVER_SUBMITTED
    fills = await _booked_exactly_once(desk)
    assert sum((f.size for f in fills), Decimal(0)) == SIZE * 25
    trades = await desk.store.list_trades(bot_id=desk.bot_id, limit=100)
    assert sorted(t.client_order_id for t in trades) == sorted(o.client_order_id for o in filled + lost)
    assert {o.client_order_id for o in await desk.store.unresolved_orders()} == {
        o.client_order_id for o in open_orders
    }

    # The next (periodic) run reads the 200 open orders in four requests and books nothing twice.
    before = _requests(desk.exchange)
    again = await desk.reconciler().run_once()
    assert (again.checked, again.still_open, again.batched, again.settled) == (200, 200, 200, 0)
    assert _requests(desk.exchange) - before == 4
    assert await _booked_exactly_once(desk) == fills


class _OneByOne:
    """The ``Exchange`` protocol only (no List Orders): a venue reconciliation cannot batch."""

    def __init__(self, client: CoinbaseRest) -> None:
        self._client = client

    async def products(self, product_ids: list[ProductId] | None = None) -> list[Product]:
        return await self._client.products(product_ids)

    async def best_bid_ask(self, product_ids: list[ProductId]) -> list[BestBidAsk]:
        return await self._client.best_bid_ask(product_ids)

    async def candles(
        self, product_id: ProductId, timeframe: Timeframe, start: int, end: int
    ) -> list[Candle]:
        return await self._client.candles(product_id, timeframe, start, end)

    async def accounts(self) -> list[Balance]:
        return await self._client.accounts()

    async def fee_tier(self) -> FeeTier:
        return await self._client.fee_tier()

    async def place_order(self, request: OrderRequest) -> PlacedOrder:
        return await self._client.place_order(request)

    async def get_order(self, order_id: str) -> ExchangeOrder:
        return await self._client.get_order(order_id)

    async def find_order(self, client_order_id: ClientOrderId, product_id: ProductId) -> ExchangeOrder | None:
        return await self._client.find_order(client_order_id, product_id)

    async def list_fills(self, order_id: str) -> list[Fill]:
        return await self._client.list_fills(order_id)

    async def cancel_orders(self, order_ids: list[str]) -> dict[str, bool]:
        return await self._client.cancel_orders(order_ids)

    async def close(self) -> None:
        return None


async def test_without_batch_reads_every_order_is_looked_up_on_its_own(desk: Desk) -> None:
    rests, crosses = await desk.prices()
    resting = [await desk.place(i, price=rests) for i in range(3)]
    filled = [await desk.place(10 + i, price=crosses) for i in range(2)]
    lost = await desk.place(20, price=crosses, store_as=OrderStatus.RISK_CHECKED, keep_id=False)
    never_sent = await desk.place(30, price=rests, store_as=OrderStatus.RISK_CHECKED, send=False)

    report = await desk.reconciler(_OneByOne(desk.exchange)).run_once()

    assert (report.checked, report.still_open, report.settled, report.never_submitted) == (7, 3, 3, 1)
    assert (report.batched, report.looked_up) == (0, 7)
    assert _requests(desk.exchange, "/orders/historical/{order_id}") == len(resting) + len(filled)
    assert _requests(desk.exchange, "/orders/historical/fills") == 3
    for order in [*filled, lost]:
        stored = await desk.store.get_order(order.client_order_id)
        assert stored is not None
        assert stored.status is OrderStatus.FILLED
    stored = await desk.store.get_order(never_sent.client_order_id)
    assert stored is not None
    assert stored.error_code == NEVER_SUBMITTED
    fills = await _booked_exactly_once(desk)
    assert len(fills) >= 3

    # The batch path finds the same state and books nothing more.
    again = await desk.reconciler().run_once()
    assert (again.checked, again.still_open, again.batched) == (3, 3, 3)
    assert await _booked_exactly_once(desk) == fills


async def test_cancelling_open_orders_for_a_kill_switch_and_booking_the_cancels(desk: Desk) -> None:
    rests, _ = await desk.prices()
    resting = [await desk.place(i, price=rests) for i in range(3)]
    first = await desk.reconciler().run_once()  # back in the book as exposure, as at a start-up
    assert first.still_open == 3
    assert len(desk.open_orders.open_orders(desk.bot_id)) == 3
    kill_switch = desk.kill_switch()
    assert await kill_switch.cancel_open(BotId(desk.bot_id + 1)) == 0  # another bot's: none

    change = await kill_switch.set(desk.bot_id, True, "testing")
    assert (change.changed, change.state.kill_switch, change.cancelled_orders) == (True, True, 3)
    assert _requests(desk.exchange, "/orders") == 0  # cancelled, nothing placed

    booked = await desk.reconciler().run_once()
    assert (booked.checked, booked.settled) == (3, 3)
    for order in resting:
        stored = await desk.store.get_order(order.client_order_id)
        assert stored is not None
        assert stored.status is OrderStatus.CANCELLED
    assert len(desk.open_orders) == 0
    assert await kill_switch.cancel_open() == 0


async def test_an_order_that_rests_is_polled_ever_more_slowly_until_reconciliation_takes_over(
    desk: Desk,
) -> None:
    # A resting limit order is followed until the fill timeout. At the first pace (every 50 ms)
    # that would be ~30 lookups in 1.5 s, taken from the REST budget every other request shares.
    order_path = desk.order_path(fill_timeout=1.5)
    resting, _ = await desk.prices()
    record = await desk.place(1, price=resting)
    settled = await order_path.follow(record, OrderOwner(desk.bots.ctx, "desk"))
    assert settled.status is OrderStatus.ACKNOWLEDGED  # still open: reconciliation follows it
    lookups = _requests(desk.exchange, "/orders/historical/{order_id}")
    assert 2 <= lookups <= 8, lookups


@pytest.mark.parametrize("one_by_one", [False, True])
async def test_a_cluster_worker_never_fails_an_order_another_worker_may_still_send(
    desk: Desk, one_by_one: bool
) -> None:
    """A bot moved to this worker; its previous owner stored a sell and is slow, not dead: the
    exchange has not heard of it yet. Marked never sent, the new owner would read the position
    from the store and sell it again once the late order filled. It stays unresolved instead (the
    new owner does not start the bot) until the exchange lists it; then its fills are booked."""
    _, crosses = await desk.prices()
    late = await desk.place(50, price=crosses, store_as=OrderStatus.RISK_CHECKED, send=False)
    reconciler = desk.reconciler(
        _OneByOne(desk.exchange) if one_by_one else None, unacknowledged_grace_s=3600.0
    )

    report = await reconciler.run_once()

    assert (report.never_submitted, report.still_open, report.settled) == (0, 1, 0)
    assert [o.client_order_id for o in await desk.store.unresolved_orders()] == [late.client_order_id]
    assert await desk.store.fills_for_bot(desk.bot_id) == []

    # The slow worker's request reaches the exchange after all.
    placed = await desk.setup.place_order(
        OrderRequest(late.client_order_id, PRODUCT, Side.BUY, base_size=SIZE, limit_price=crosses)
    )
    assert placed.success, placed
    report = await reconciler.run_once()

    assert (report.never_submitted, report.settled) == (0, 1)
    stored = await desk.store.get_order(late.client_order_id)
    assert stored is not None
    assert stored.status is OrderStatus.FILLED
    assert stored.exchange_order_id == placed.order_id
    assert await desk.store.unresolved_orders() == []
    fills = await _booked_exactly_once(desk)
    assert sum((f.size for f in fills), Decimal(0)) == SIZE


async def test_a_cluster_worker_fails_an_unacknowledged_order_once_its_grace_has_passed(desk: Desk) -> None:
    rests, _ = await desk.prices()
    stored_at = desk.clock.now() - timedelta(minutes=2)
    never_sent = await desk.place(
        60, price=rests, store_as=OrderStatus.RISK_CHECKED, send=False, created_at=stored_at
    )

    report = await desk.reconciler(unacknowledged_grace_s=60.0).run_once()

    assert (report.never_submitted, report.still_open) == (1, 0)
    stored = await desk.store.get_order(never_sent.client_order_id)
    assert stored is not None
    assert stored.error_code == NEVER_SUBMITTED


async def test_an_order_done_before_its_fills_are_listed_stays_open_until_they_are_booked(
    trading: Trading,
) -> None:
    """Coinbase's fills listing can trail an order it already reports FILLED: the order is not
    final until its fills are booked, so its rest still counts against the bot's budget."""
    bot_id, order, found = await _bought_at_the_exchange(trading)
    bots = trading.p.bots
    assert bots is not None
    assert found.status.is_final
    assert found.filled_size > 0

    settler = trading.p.trading.settler
    open_orders = trading.p.trading.open_orders
    # The exchange's answer as it may come: the order filled, no fill listed yet.
    booked = await settler.settle(order, found, OrderOwner(bots.context(bot_id), "quiet"), fills=[])
    assert booked.status is OrderStatus.PARTIALLY_FILLED
    assert booked.completed_at is None
    assert bots.position(bot_id).base == 0
    assert open_orders.open_buy_notional(bot_id) == Decimal(40)  # nothing of it is booked yet

    # Reconciliation looks again, now with the fills listed: booked once, then final.
    report = await trading.p.trading.reconciler.run_once()
    assert report.settled == 1
    stored = await trading.p.store.get_order(order.client_order_id)
    assert stored is not None
    assert stored.status is OrderStatus.FILLED
    fills = await trading.p.store.fills_for_bot(bot_id)
    assert bots.position(bot_id).base == sum(f.size for f in fills) == found.filled_size
    assert open_orders.open_buy_notional(bot_id) == 0


async def test_a_fill_booked_while_the_position_is_rebuilt_is_neither_lost_nor_counted_twice(
    trading: Trading, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker holding a cluster's account rebuilds positions from the stored fills while its
    own bots' fills land: a rebuild that read the fills before one was stored and reset the
    position after it was booked lost that fill, and the bot sold what it had already sold."""
    bot_id, order, found = await _bought_at_the_exchange(trading)
    exchange, bots, store = trading.p.exchange, trading.p.bots, trading.p.store
    assert exchange is not None
    assert bots is not None

    read = asyncio.Event()
    answer = asyncio.Event()
    stored_fills = store.fills_for_bot

    async def slow_read(bot: int) -> list[Fill]:
        fills = await stored_fills(bot)  # read now (none yet), answered late
        read.set()
        await answer.wait()
        return fills

    monkeypatch.setattr(store, "fills_for_bot", slow_read)
    rebuilding = asyncio.create_task(bots.rebook(bot_id))
    await read.wait()
    settler = trading.p.trading.settler
    settling = asyncio.create_task(settler.settle(order, found, OrderOwner(bots.context(bot_id), "quiet")))
    await asyncio.sleep(0.2)  # the settlement gets as far as it can while the rebuild reads
    answer.set()
    await rebuilding
    assert (await settling).status is OrderStatus.FILLED
    monkeypatch.undo()
    assert bots.position(bot_id).base == found.filled_size > 0
    await bots.rebook(bot_id)
    assert bots.position(bot_id).base == found.filled_size


async def test_fills_another_process_stored_first_are_booked_in_the_owners_position(
    trading: Trading,
) -> None:
    """In a cluster the worker holding the account's duties may store an order's fills (its sweep
    or reconciliation) before the worker that placed the order settles it: that worker's bot
    still books them, or it would sell again what it has already sold."""
    bot_id, order, found = await _bought_at_the_exchange(trading)
    exchange, bots, store = trading.p.exchange, trading.p.bots, trading.p.store
    assert exchange is not None
    assert bots is not None
    for fill in await exchange.list_fills(found.order_id):  # as the other worker's sweep does
        assert await store.insert_fill(fill, bot_id=bot_id, client_order_id=order.client_order_id)

    settler = trading.p.trading.settler
    settled = await settler.settle(order, found, OrderOwner(bots.context(bot_id), "quiet"))
    assert settled.status is OrderStatus.FILLED
    assert bots.position(bot_id).base == found.filled_size > 0
    # Settled again, now with the fills booked here: nothing moves.
    await settler.settle(settled, found, OrderOwner(bots.context(bot_id), "quiet"))
    assert bots.position(bot_id).base == found.filled_size


# --- two settlements of one order, from reads taken at different times ---------------------------


async def _read_twice_while_filling(
    desk: Desk,
) -> tuple[OrderRecord, ExchangeOrder, list[Fill], ExchangeOrder]:
    """An order filling in pieces, read as reconciliation reads it (the order and its fills) while
    one piece is filled, and as the sweep reads it once all are: the older and the newer read."""
    desk.simulator.faults.inject("partial_fills", pieces=3, spread_ms=3000, seconds=60)
    _, crosses = await desk.prices()
    record = await desk.place(1, price=crosses)
    while True:
        older = await desk.exchange.get_order(record.exchange_order_id)
        if older.filled_size > 0:
            break
        await asyncio.sleep(0.02)
    older_fills = await desk.exchange.list_fills(record.exchange_order_id)
    assert not older.status.is_final
    assert sum(f.size for f in older_fills) == older.filled_size, "a second piece came in between"
    while True:
        newer = await desk.exchange.get_order(record.exchange_order_id)
        if newer.status.is_final:
            break
        await asyncio.sleep(0.05)
    assert newer.filled_size > older.filled_size
    return record, older, older_fills, newer


async def _nothing_moved_back(desk: Desk, record: OrderRecord, newer: ExchangeOrder) -> None:
    stored = await desk.store.get_order(record.client_order_id)
    assert stored is not None
    assert (stored.status, stored.filled_size) == (OrderStatus.FILLED, newer.filled_size)
    (trade,) = await desk.store.list_trades()
    assert (trade.status, trade.base_size, trade.fee) == (
        OrderStatus.FILLED,
        newer.filled_size,
        newer.total_fees,
    )
    assert desk.position.base == newer.filled_size
    assert record.client_order_id not in desk.open_orders  # no exposure left behind for the bot
    assert len(await _booked_exactly_once(desk)) == 3


async def test_a_settlement_from_an_older_read_never_moves_an_order_or_its_trade_back(desk: Desk) -> None:
    """Reconciliation and the sweep each read an order and settle it, each from the stored record
    they read before: the one with the older read of the exchange may settle last. The order and
    its trade keep the newer figures (in a cluster the two may run in different processes)."""
    record, older, older_fills, newer = await _read_twice_while_filling(desk)
    owner = OrderOwner(desk.bots.ctx, "desk")

    assert (await desk.settler.settle(record, newer, owner)).status is OrderStatus.FILLED  # the sweep's
    booked = desk.settler.trades_booked
    settled = await desk.settler.settle(record, older, owner, older_fills)  # reconciliation's, last

    assert (settled.status, settled.filled_size) == (OrderStatus.FILLED, newer.filled_size)
    assert desk.settler.trades_booked == booked  # nothing booked or announced from the older read
    await _nothing_moved_back(desk, record, newer)


async def test_an_older_settlement_overtaken_between_its_order_and_its_trade_leaves_the_newer_trade(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The two settlements interleave: the older one stores the order row first, the newer one then
    stores both, and the older one's trade comes last (as once seen after a restart: the order
    row right, its trade with the size of an earlier read)."""
    record, older, older_fills, newer = await _read_twice_while_filling(desk)
    owner = OrderOwner(desk.bots.ctx, "desk")
    store = desk.store
    upsert_trade = store.upsert_trade
    held, release = asyncio.Event(), asyncio.Event()

    async def late_trade(trade: Trade) -> Trade:
        if not held.is_set():  # the older settlement's trade: stored after the newer one's
            held.set()
            await release.wait()
        return await upsert_trade(trade)

    monkeypatch.setattr(store, "upsert_trade", late_trade)
    stale = asyncio.create_task(desk.settler.settle(record, older, owner, older_fills))
    await held.wait()
    assert (await desk.settler.settle(record, newer, owner)).status is OrderStatus.FILLED
    release.set()
    await stale
    monkeypatch.undo()

    await _nothing_moved_back(desk, record, newer)


async def test_fills_first_stored_by_an_older_settlement_are_booked_without_moving_the_order_back(
    desk: Desk,
) -> None:
    """The newer read came while the exchange's fills listing still trailed it (nothing listed),
    the older one with its fill: that fill moves the position and its trade is announced, with
    the order's stored (newer) figures; reconciliation then books the rest."""
    record, older, older_fills, newer = await _read_twice_while_filling(desk)
    owner = OrderOwner(desk.bots.ctx, "desk")
    settler = desk.settler

    first = await settler.settle(record, newer, owner, fills=[])  # the sweep's, fills not listed yet
    assert (first.status, first.filled_size) == (OrderStatus.PARTIALLY_FILLED, newer.filled_size)
    booked = settler.trades_booked
    settled = await settler.settle(record, older, owner, older_fills)  # reconciliation's, older

    assert settled == first  # the stored order as it was
    assert settler.trades_booked == booked + 1  # its fill's trade, announced
    (trade,) = await desk.store.list_trades()
    assert (trade.status, trade.base_size) == (OrderStatus.PARTIALLY_FILLED, newer.filled_size)
    assert desk.position.base == older.filled_size
    assert record.client_order_id in desk.open_orders  # what is not booked yet still counts

    assert (await desk.reconciler().run_once()).settled == 1
    await _nothing_moved_back(desk, record, newer)


async def test_an_order_settled_twice_from_one_stale_read_is_booked_and_announced_once(
    trading: Trading,
) -> None:
    """Reconciliation and the sweep can both read an order before either settles it (in a cluster,
    the account worker adopting an order a stopped worker left in flight): the second settlement
    finds it done in the store and books, logs and announces nothing again."""
    bot_id, order, found = await _bought_at_the_exchange(trading)
    bots = trading.p.bots
    assert bots is not None
    settler = trading.p.trading.settler
    booked = settler.trades_booked

    first = await settler.settle(order, found, OrderOwner(bots.context(bot_id), "quiet"))
    assert first.status is OrderStatus.FILLED
    again = await settler.settle(order, found, OrderOwner(bots.context(bot_id), "quiet"))  # the stale read

    assert settler.trades_booked == booked + 1
    assert again == first
    assert bots.position(bot_id).base == found.filled_size > 0


class _Stopped(Exception):
    """The process stopping at this point of settlement (no later write happens)."""


async def test_an_order_left_final_without_its_trade_gets_it_at_the_next_start(
    trading: Trading, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Settlement stores an order's last update and its trade in two writes: a process stopped
    between them leaves a final order that reconciliation (unfinished orders only) never reads
    again. The next start books its trade from the stored order, its fills counted once."""
    bot_id, order, found = await _bought_at_the_exchange(trading)
    bots = trading.p.bots
    assert bots is not None

    async def stop_here(trade: Trade) -> Trade:
        raise _Stopped

    monkeypatch.setattr(trading.p.store, "upsert_trade", stop_here)
    with pytest.raises(_Stopped):
        await trading.p.trading.settler.settle(order, found, OrderOwner(bots.context(bot_id), "quiet"))
    monkeypatch.undo()
    stored = await trading.p.store.get_order(order.client_order_id)
    assert stored is not None
    assert (stored.status, stored.filled_size) == (OrderStatus.FILLED, found.filled_size)
    assert await trading.p.store.list_trades() == []

    await trading.restart()

    (trade,) = await trading.p.store.list_trades()
    assert (trade.client_order_id, trade.status, trade.base_size, trade.fee) == (
        order.client_order_id,
        OrderStatus.FILLED,
        found.filled_size,
        found.total_fees,
    )
    assert trade.quote_amount == found.filled_value
    assert await trading.p.store.final_orders_without_their_trade() == []
    bots = trading.p.bots
    assert bots is not None
    assert bots.position(bot_id).base == found.filled_size  # its fills, booked once
