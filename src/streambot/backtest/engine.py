"""A backtest: ticks replayed through the live engine on a ManualClock.

The parts are the live ones — ``StreamingEvaluator``, the strategies and their shared indicators,
``BotManager`` (the API's validation), ``RiskEngine`` with every rule, the order path with its
sizing, intent, settlement and P&L — built here as ``app.Platform`` builds them, with three
different collaborators plugged in: a ``ManualClock`` the data moves, the matcher as the venue
(``venues.matcher.exchange``: fees, increments, minimum sizes, latency), and an in-memory store.

Determinism: everything the engine awaits completes without suspending except sleeps on the
ManualClock, so after each tick the replay runs the event loop until the clock says every task
started in the replay waits on it (``ManualClock.settled``: the clock follows those tasks
through the loop's task factory) before it moves the clock again. The same ticks, bots and settings then
give the same orders and fills in any process, any number of times.

Per tick the replay does: hand the quote to the venue, move the clock (due sleepers wake: orders
whose latency has passed meet this quote), evaluate the product's bots, and, only when a signal
came or a coroutine woke, run the loop until it is quiet again.

Memory stays flat however long the data: every 1,024 ticks, settled, the orders that are done
leave memory (``_archive``): the store's records go to its spill file, the venue forgets them
(``MatcherExchange.release``) and their fills go to ours as the rows the result needs; a bot's
equity samples beyond the last 1,024 go to a spill file too. ``result`` reads everything back.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from streambot.backtest.memory_store import MemoryStore, Spill
from streambot.backtest.result import (
    BacktestFill,
    BacktestResult,
    BacktestTrade,
    BotResult,
    EquitySample,
    SkippedLine,
    decision,
)
from streambot.bots import BotCreate, BotError, BotManager
from streambot.bus import InProcessBus, PriceBoard
from streambot.clock import ManualClock
from streambot.domain import (
    COINBASE_ENTRY_TIER,
    BotId,
    FeedState,
    FeeSource,
    FeeTier,
    OrderRecord,
    Position,
    Product,
    ProductId,
    Ticker,
    Trade,
)
from streambot.evaluator import BotRuntime, StreamingEvaluator
from streambot.events import FeedStateChanged, TradeBooked
from streambot.observability.latency import NoLatency
from streambot.risk.base import RiskLimits
from streambot.risk.engine import RiskEngine
from streambot.strategies.base import LiveBalances
from streambot.strategies.warmup import CandleHistory
from streambot.trading.balances import BalanceCache
from streambot.trading.fees import FeeSchedule
from streambot.trading.holds import ProductHolds
from streambot.trading.order_path import OrderPath, assemble_order_path
from streambot.venues.factory import MatcherVenue, open_exchange
from streambot.venues.matcher.exchange import MatcherExchange
from streambot.venues.matcher.fills import SimFill

log = logging.getLogger(__name__)

_ZERO = Decimal(0)
_PROGRESS_EVERY = 1 << 16  # ticks between progress reports (a power of two: a mask, not a modulo)
_GC_YOUNG = 50_000  # allocations between collections of the young generation during a replay
_EQUITY_KEPT = 1 << 10  # a bot's equity samples kept in memory before they go to the spill file
_YIELD_EVERY = 1 << 10  # ticks between the loop turns a settled replay gives (a power of two too)
INSTANCE_ID = "backtest"  # part of every client_order_id: the same in every run, so ids repeat


class BotFileError(ValueError):
    """A bot of the ``--bots`` list the platform would refuse; the message names which and why."""


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    fee_tier: FeeTier = COINBASE_ENTRY_TIER
    latency_s: float = 0.05
    sample_s: float = 60.0  # the equity grid (data time)
    limits: RiskLimits = field(default_factory=RiskLimits)
    cooldown_s: float = 5.0  # the order path's, as in live trading (STREAMBOT_ORDER_COOLDOWN_S)
    seed: int = 0  # the matcher's order and trade ids


Progress = Callable[[int, float], None]  # (ticks replayed, data time reached)
# An archived order as the result reads it: its client_order_id, the venue's fills of it and what
# they realized (None: nothing booked as realized).
_Released = tuple[str, list[SimFill], Decimal | None]


@dataclass(slots=True)
class _Tracked:
    """A bot of the run and what is sampled of it as the replay goes."""

    spec: BotCreate
    bot_id: BotId
    runtime: BotRuntime
    params: dict[str, object]  # as validated: every parameter, defaults included
    equity: list[EquitySample] = field(default_factory=list)
    first_price: Decimal | None = None


class Backtest:
    """One run's engine; build with ``await Backtest.open(...)``, then ``await run(ticks)``."""

    def __init__(
        self,
        *,
        clock: ManualClock,
        start: float,
        bus: InProcessBus,
        store: MemoryStore,
        exchange: MatcherExchange,
        order_path: OrderPath,
        evaluator: StreamingEvaluator,
        bots: BotManager,
        risk: RiskEngine,
        config: BacktestConfig,
    ) -> None:
        self.clock = clock
        self._start = start
        self.bus = bus
        self.store = store
        self.exchange = exchange
        self.order_path = order_path
        self.evaluator = evaluator
        self.bots = bots
        self.risk = risk
        self.config = config
        self._tracked: list[_Tracked] = []
        self._by_product: dict[ProductId, list[_Tracked]] = {}
        # Each product's latest tick is the venue's (it keeps it for the book): read, not copied.
        self._last: Mapping[ProductId, Ticker] = exchange.latest
        self.errors: list[tuple[str, str]] = []  # (bot name, why its strategy was stopped)
        # A trade booked since the last sample: equity is sampled at trades too, so the charts and
        # the drawdown see each fill's effect at its own time, not at the next grid point.
        self._traded = False
        # What each order's fills realized, as settlement booked it (its trade events summed).
        self._realized: dict[str, Decimal] = {}
        # The venue's fills of the orders archived (``_archive``) and what those orders realized:
        # batches of (client_order_id, fill rows, realized or None), read back by ``result``.
        self._released: Spill[_Released] = Spill(_Released)
        # The samples moved out: (bot_id, samples).
        self._equity_spill: Spill[tuple[int, list[EquitySample]]] = Spill(tuple[int, list[EquitySample]])
        bus.subscribe(TradeBooked, self._on_trade)
        self.ticks = 0
        self.first_at = start
        self.last_at = start

    @classmethod
    async def open(
        cls,
        bots: Sequence[BotCreate],
        products: Mapping[ProductId, Product],
        *,
        start: float,
        config: BacktestConfig = BacktestConfig(),
    ) -> Backtest:
        """Every part, built as the platform builds them, and the bots created and started.

        Raises ``BotFileError`` naming the first bot the platform would refuse (index and field).
        """
        clock = ManualClock(datetime.fromtimestamp(start, UTC))
        bus = InProcessBus(clock)
        store = MemoryStore(clock)
        # The account holds what the bots may spend: each quote currency their budgets' sum, so the
        # bots' own budgets are what limit them, as on an account funded for its bots.
        cash: dict[str, Decimal] = {}
        for spec in bots:
            product = products.get(spec.product_id)
            if product is not None:
                cash[product.quote_currency] = cash.get(product.quote_currency, Decimal(0)) + spec.budget
        exchange = open_exchange(
            MatcherVenue(
                products,
                starting_balances=cash,
                fee_tier=config.fee_tier,
                latency_s=config.latency_s,
                seed=config.seed,
            ),
            clock=clock,
        )
        # Orders and balance refreshes are coroutines the clock steps itself: no task, future or
        # loop turn per order, in the order the loop would have run them.
        balances = BalanceCache(exchange.accounts, clock=clock, spawn=clock.spawn)
        fees = FeeSchedule(
            exchange.fee_tier, initial=config.fee_tier, source=FeeSource.CONFIGURED, clock=clock
        )
        risk = RiskEngine(config.limits, store, publish=bus.publish, clock=clock)
        await risk.load()
        holds = ProductHolds(store=store, bus=bus, clock=clock)
        order_path = assemble_order_path(
            bus=bus,
            exchange=exchange,
            store=store,
            balances=balances,
            risk=risk,
            holds=holds,
            products=products,
            clock=clock,
            instance_id=INSTANCE_ID,
            cooldown_s=config.cooldown_s,
            spawn=clock.spawn,
        )
        errors: list[tuple[str, str]] = []
        evaluator = StreamingEvaluator(
            bus,
            order_path.on_signal,
            lambda bot, exc: errors.append((bot.name, bot.error_reason)),
            prices=PriceBoard(),
            clock=clock,
            # Replayed ticks carry no receive time: a tick-to-decision figure would mean nothing.
            latency=NoLatency(),
        )
        manager = BotManager(
            store,
            evaluator,
            bus,
            list(products),
            products,
            history=CandleHistory(exchange.candles, clock),
            balances=LiveBalances(lambda: balances.latest),
            fees=fees,
            clock=clock,
        )
        backtest = cls(
            clock=clock,
            start=start,
            bus=bus,
            store=store,
            exchange=exchange,
            order_path=order_path,
            evaluator=evaluator,
            bots=manager,
            risk=risk,
            config=config,
        )
        backtest.errors = errors
        await backtest._add_bots(bots)
        # The replay's market data is live from its first tick: entries are not held back as they
        # are while a real feed connects.
        bus.publish(FeedStateChanged(state=FeedState.LIVE, reason="replay", since=clock.time()))
        return backtest

    async def _add_bots(self, bots: Sequence[BotCreate]) -> None:
        names: set[str] = set()
        for index, spec in enumerate(bots):
            if spec.name in names:
                raise BotFileError(f"bots[{index}].name: {spec.name!r} is used by another bot of the list")
            names.add(spec.name)
            try:
                record = await self.bots.create(
                    name=spec.name,
                    strategy=spec.strategy,
                    product_id=spec.product_id,
                    params=spec.params,
                    budget=spec.budget,
                )
                await self.bots.start(record.id)
            except BotError as exc:
                raise BotFileError(f"bots[{index}].{exc.field}: {exc}") from None
            runtime = self.bots.runtime(record.id)
            if runtime is None:  # the bot could not start (its warm-up failed): say why
                stored = await self.bots.get(record.id)
                raise BotFileError(f"bots[{index}] ({spec.name}) did not start: {stored.error_reason}")
            tracked = _Tracked(spec, record.id, runtime, dict(record.params))
            self._tracked.append(tracked)
            self._by_product.setdefault(spec.product_id, []).append(tracked)

    # --- the replay --------------------------------------------------------------------------

    async def run(self, ticks: Iterable[tuple[float, Ticker]], progress: Progress | None = None) -> None:
        clock = self.clock
        with clock.following_tasks(), _collecting_less():
            await self._replay(ticks, progress)

    async def _replay(self, ticks: Iterable[tuple[float, Ticker]], progress: Progress | None) -> None:
        clock = self.clock
        # Quiescence is the clock's: every task started in the replay waits on it (or on work
        # that does) once ``settled``; ``settle`` gives the loop turns until then.
        settled = clock.settled
        settle = clock.settle
        run_ready = clock.run_ready
        start = self._start
        advance = clock.advance
        quote = self.exchange.quote
        evaluate = self.evaluator.evaluate
        sample_s = self.config.sample_s
        next_sample = start
        now = start
        count = self.ticks
        for at, tick in ticks:
            quote(tick)
            if at > now:
                now = at
                advance(at - start)
                run_ready()
                if not settled():
                    await settle()
            evaluate(tick)
            run_ready()
            if not settled():
                await settle()
            count += 1
            if self._traded:
                self._traded = False
                await self._sample(now)
            if now >= next_sample:
                await self._sample(now)
                next_sample = now - (now - start) % sample_s + sample_s
            if not count & (_YIELD_EVERY - 1):
                # Settled, the replay need not give the loop a turn, but the callbacks the steps
                # left (a finished order's done callbacks) wait for one: they get it now and then.
                await asyncio.sleep(0)
                if not settled():
                    await settle()
                self._archive()
                if progress is not None and not count & (_PROGRESS_EVERY - 1):
                    progress(count, now)
        self.ticks = count
        self.last_at = now
        await self._sample(now)
        if progress is not None:
            progress(count, now)

    def _on_trade(self, event: TradeBooked) -> None:
        self._traded = True
        if event.realized_pnl is not None:
            key = event.trade.client_order_id
            self._realized[key] = self._realized.get(key, _ZERO) + event.realized_pnl

    async def _sample(self, now: float) -> None:
        total = Decimal(0)
        prices: dict[ProductId, Decimal] = {}  # each product's price made once, however many bots
        for tracked in self._tracked:
            product_id = tracked.spec.product_id
            price = prices.get(product_id)
            if price is None:
                tick = self._last.get(product_id)
                if tick is None:
                    total += tracked.spec.budget
                    continue
                price = prices[product_id] = Decimal(repr(tick.price))
            if tracked.first_price is None:
                tracked.first_price = price
            position = tracked.runtime.ctx.position
            equity = _equity(tracked.spec.budget, position, price)
            total += equity
            points = tracked.equity
            if points and points[-1].time == now:
                points[-1] = EquitySample(now, equity, position.base, price)
            else:
                points.append(EquitySample(now, equity, position.base, price))
                if len(points) >= _EQUITY_KEPT:
                    self._spill_equity(tracked)
        # The account's daily-loss and drawdown limits, judged on the same grid as the equity
        # watcher judges them live.
        await self.risk.observe_equity(total)

    def _spill_equity(self, tracked: _Tracked) -> None:
        """The bot's samples but the last (the next sample may replace it) into the spill file."""
        points = tracked.equity
        self._equity_spill.write([(tracked.bot_id, points[:-1])])
        del points[:-1]

    def _equity_of(self, tracked: _Tracked) -> list[EquitySample]:
        """Every sample of the bot's: the spilled ones, then the ones in memory."""
        spilled = self._equity_spill.read()
        points = [sample for bot_id, samples in spilled if bot_id == tracked.bot_id for sample in samples]
        points += tracked.equity
        return points

    def _archive(self) -> None:
        """Move the orders that are done out of memory: the store's records into its spill file,
        the venue's into ours, as the rows the result reads. Called when the replay is settled,
        so no settlement is half-way through one of them."""
        moved = self.store.archive_final()
        if not moved:
            return
        fills = self.exchange.release([o.exchange_order_id for o in moved if o.exchange_order_id])
        realized = self._realized
        batch: list[_Released] = []
        for order in moved:
            key = order.client_order_id
            rows = fills.get(order.exchange_order_id or "", [])
            gained = realized.pop(key, None)
            if rows or gained is not None:
                batch.append((key, rows, gained))
        if batch:
            self._released.write(batch)

    async def finish(self) -> None:
        """Orders still on their way when the data ends never reach the venue: they are
        cancelled (left at ``submitted``), not executed on a market that is not in the data."""
        await self.order_path.abandon()

    # --- the result --------------------------------------------------------------------------

    def result(
        self,
        *,
        data: list[str],
        candle_derived: bool,
        skipped: list[SkippedLine],
        elapsed_s: float,
    ) -> BacktestResult:
        names = {tracked.bot_id: tracked.spec.name for tracked in self._tracked}
        orders = self.store.all_orders()
        bot_of: dict[str, BotId] = {o.client_order_id: o.bot_id for o in orders}
        by_client: dict[str, list[BacktestFill]] = {}
        realized: dict[str, Decimal] = {}
        # The archived orders' fills first: each order's fills are archived together, oldest first.
        for client_order_id, rows, gained in self._released.read():
            if gained is not None:
                realized[client_order_id] = gained
            bot = names.get(bot_of[client_order_id], "")
            by_client[client_order_id] = [_backtest_fill(bot, client_order_id, fill) for fill in rows]
        for key, gained in self._realized.items():
            realized[key] = realized[key] + gained if key in realized else gained
        client_of = {o.exchange_order_id: o.client_order_id for o in orders if o.exchange_order_id}
        for fill in self.exchange.fills():
            owner = client_of.get(fill.order_id)
            if owner is None:
                continue  # an order the store never acknowledged (cancelled at the end)
            row = _backtest_fill(names.get(bot_of[owner], ""), owner, fill)
            by_client.setdefault(owner, []).append(row)
        trades = self.store.all_trades()

        result = BacktestResult(
            data=data,
            candle_derived=candle_derived,
            products=sorted({t.spec.product_id for t in self._tracked} | set(self._last)),
            start=self.first_at,
            end=self.last_at,
            maker_fee_rate=self.config.fee_tier.maker_fee_rate,
            taker_fee_rate=self.config.fee_tier.taker_fee_rate,
            latency_ms=self.config.latency_s * 1000,
            sample_s=self.config.sample_s,
            ticks=self.ticks,
            skipped=skipped,
            elapsed_s=elapsed_s,
        )
        for tracked in self._tracked:
            result.bots.append(self._bot_result(tracked, by_client, orders, trades, realized))
        result.digest = digest(result, orders, names)
        return result

    def _bot_result(
        self,
        tracked: _Tracked,
        by_client: Mapping[str, list[BacktestFill]],
        all_orders: Sequence[OrderRecord],
        all_trades: Sequence[Trade],
        realized: Mapping[str, Decimal],
    ) -> BotResult:
        spec = tracked.spec
        runtime = tracked.runtime
        orders = [o for o in all_orders if o.bot_id == tracked.bot_id]
        trades = sorted(
            (t for t in all_trades if t.bot_id == tracked.bot_id),
            key=lambda t: (t.filled_at or t.created_at, t.client_order_id),
        )
        fills = [row for order in orders for row in by_client.get(order.client_order_id, ())]
        fills.sort(key=lambda row: (row.time, row.client_order_id))
        # The bot's position as settlement kept it, fill by fill: what the strategy traded on.
        position = runtime.ctx.position
        rows: list[BacktestTrade] = []
        fees = Decimal(0)
        for trade in trades:
            fees += trade.fee
            when = trade.filled_at or trade.created_at
            rows.append(
                BacktestTrade(
                    bot=spec.name,
                    product_id=trade.product_id,
                    side=trade.side.value,
                    size=trade.base_size,
                    price=trade.price,
                    quote=trade.quote_amount,
                    fee=trade.fee,
                    realized_pnl=realized.get(trade.client_order_id, _ZERO),
                    time=when.timestamp(),
                    reason=trade.reason,
                    client_order_id=trade.client_order_id,
                )
            )
        decisions = [
            decision(order, spec.name)
            for order in sorted(orders, key=lambda o: (o.created_at, o.client_order_id))
        ]
        tick = self._last.get(spec.product_id)
        last_price = Decimal(repr(tick.price)) if tick is not None else Decimal(0)
        unrealized = position.base * last_price - position.cost if position.base else Decimal(0)
        return BotResult(
            name=spec.name,
            strategy=spec.strategy,
            product_id=spec.product_id,
            params=tracked.params,
            budget=spec.budget,
            fills=fills,
            trades=rows,
            decisions=decisions,
            equity=self._equity_of(tracked),
            signals=runtime.signals,
            orders=sum(1 for o in orders if o.exchange_order_id),
            rejected=sum(1 for o in orders if o.status.value == "rejected"),
            realized_pnl=position.realized_pnl,
            unrealized_pnl=unrealized,
            fees=fees,
            position_base=position.base,
            last_price=last_price,
            first_price=tracked.first_price or last_price,
        )


@contextlib.contextmanager
def _collecting_less() -> Iterator[None]:
    """The cyclic garbage collector, tuned for a replay while it runs.

    A replay allocates many short-lived objects per order, and by default the collector runs
    every 700 allocations, and now and then through everything alive: the data already read,
    the run's records. A fifth of a replay's time went there. What is alive before the replay
    is set aside (``gc.freeze``), and the young generation is collected less often; garbage
    is still collected, so memory stays flat. Both are put back afterwards.
    """
    thresholds = gc.get_threshold()
    freezing = gc.get_freeze_count() == 0  # a caller that froze objects itself keeps them frozen
    if freezing:
        # Garbage first (an earlier run's, in a process that runs several): frozen, it would
        # stay until the end of this run.
        gc.collect()
        gc.freeze()
    gc.set_threshold(max(thresholds[0], _GC_YOUNG), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if freezing:
            gc.unfreeze()


def _backtest_fill(bot: str, client_order_id: str, fill: SimFill) -> BacktestFill:
    return BacktestFill(
        bot=bot,
        side=fill.side,
        size=fill.size,
        price=fill.price,
        fee=fill.commission,
        quote=fill.size * fill.price,
        time=fill.time,
        client_order_id=client_order_id,
        liquidity=fill.liquidity_indicator,
    )


def _equity(budget: Decimal, position: Position, price: Decimal) -> Decimal:
    """Budget + realized P&L + the holding marked at ``price`` less what it cost (fees included)."""
    return budget + position.realized_pnl + (position.base * price - position.cost)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def digest(result: BacktestResult, orders: Sequence[Any], names: Mapping[BotId, str]) -> str:
    """sha256 of the run's orders and fills in a canonical form: equal digests, equal trading."""
    canonical_orders = [
        [
            o.client_order_id,
            names.get(o.bot_id, ""),
            o.side.value,
            o.status.value,
            _plain(o.quote_size) if o.quote_size is not None else None,
            _plain(o.base_size) if o.base_size is not None else None,
            _plain(o.filled_size),
            _plain(o.average_price),
            _plain(o.fees),
            o.error_code,
            o.created_at.isoformat(),
        ]
        for o in sorted(orders, key=lambda o: (o.created_at, o.client_order_id))
    ]
    canonical_fills = [
        [b.name, f.side, _plain(f.size), _plain(f.price), _plain(f.fee), f"{f.time:.6f}", f.client_order_id]
        for b in result.bots
        for f in b.fills
    ]
    blob = orjson.dumps({"orders": canonical_orders, "fills": canonical_fills})
    return hashlib.sha256(blob).hexdigest()
