"""``streambot bench --only trading``: the trading engine's speed targets, measured on loopback.

- decision → order submitted to the simulator (and acknowledged by it), through the real order path:
  sizing, every risk rule, the intent's one durable SQLite commit, the REST call;
- reconciliation of 1,000 open orders against the simulator;
- a year of trades for 100 bots in SQLite, one page of the trades list per query.

Prints figures and asserts nothing: the targets are read by people, not by the test suite.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import insert

from streambot.bus import InProcessBus
from streambot.clock import SystemClock
from streambot.domain import (
    BotId,
    BotRecord,
    BotState,
    ClientOrderId,
    FeedState,
    OrderRecord,
    OrderRequest,
    OrderStatus,
    Position,
    Side,
    Signal,
    Ticker,
)
from streambot.evaluator import BotRuntime
from streambot.events import FeedStateChanged
from streambot.observability.latency import LatencyStats
from streambot.risk.base import RiskLimits
from streambot.risk.engine import RiskEngine
from streambot.simulator.process import SimulatorProcess
from streambot.simulator.server import Simulator, SimulatorConfig
from streambot.store.database import Store
from streambot.store.models import OrderRow, TradeRow
from streambot.strategies.base import BotContext
from streambot.trading.balances import BalanceCache
from streambot.trading.holds import ProductHolds
from streambot.trading.open_orders import OpenOrders
from streambot.trading.order_path import assemble_order_path
from streambot.trading.reconcile import Reconciler
from streambot.trading.settlement import Settler
from streambot.venues.coinbase.client import CoinbaseRest
from streambot.venues.coinbase.rate_limit import RateLimiter

PRODUCT = "BTC-USD"
_REQUESTS_PER_ORDER = 4  # create, one or two status reads, the balances after a fill


@dataclass
class Figure:
    name: str
    value: str
    target: str


class _Idle:
    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        return None


class _NoBots:
    """Reconciliation's bot directory when no bot is loaded: fills move no position."""

    async def list(self) -> list[BotRecord]:
        return []

    def position(self, bot_id: BotId) -> Position:
        return Position()

    def context(self, bot_id: BotId) -> BotContext | None:
        return None

    def runtime(self, bot_id: BotId) -> BotRuntime | None:
        return None


async def _tick(exchange: CoinbaseRest, clock: SystemClock) -> Ticker:
    book = (await exchange.best_bid_ask([PRODUCT]))[0]
    price = float((book.bid + book.ask) / 2)
    return Ticker(
        product_id=PRODUCT,
        price=price,
        best_bid=float(book.bid),
        best_ask=float(book.ask),
        volume_24h=0.0,
        low_24h=0.0,
        high_24h=0.0,
        price_change_pct_24h=0.0,
        time=clock.time(),
        received_ns=time.perf_counter_ns(),
        sequence=0,
    )


def _ms(stats: LatencyStats) -> str:
    return f"p50 {stats.percentile_us(50) / 1000:.2f} ms · p99 {stats.percentile_us(99) / 1000:.2f} ms"


@dataclass
class OrderLatency:
    """Decision → sent / acknowledged, the intent's commit, and a raw aiosqlite insert+commit."""

    sent: LatencyStats
    acknowledged: LatencyStats
    filled: LatencyStats
    intent_commit: LatencyStats
    raw_commit: LatencyStats

    def as_json(self) -> dict[str, float | int]:
        def ms(stats: LatencyStats, pct: float) -> float:
            return round(stats.percentile_us(pct) / 1000, 3)

        return {
            "orders": self.acknowledged.count,
            "decision_to_sent_ms_p50": ms(self.sent, 50),
            "decision_to_sent_ms_p99": ms(self.sent, 99),
            "decision_to_ack_ms_p50": ms(self.acknowledged, 50),
            "decision_to_ack_ms_p99": ms(self.acknowledged, 99),
            "intent_commit_ms_p50": ms(self.intent_commit, 50),
            "intent_commit_ms_p99": ms(self.intent_commit, 99),
            "raw_aiosqlite_commit_ms_p50": ms(self.raw_commit, 50),
            "raw_aiosqlite_commit_ms_p99": ms(self.raw_commit, 99),
        }


class RawCommits:
    """The reference: one INSERT and a COMMIT through plain aiosqlite, WAL and synchronous=FULL as
    the store has them, a row of the order's width. Taken once before each order, so that it meets
    the same disk (the simulator's writes, other processes') as the intent it is compared with."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db
        self.stats = LatencyStats(4096)
        self._count = 0

    @classmethod
    async def open(cls, path: Path) -> RawCommits:
        db = await aiosqlite.connect(path)
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=FULL")
        await db.execute(
            "CREATE TABLE orders (client_order_id TEXT PRIMARY KEY, bot_id INTEGER, product_id TEXT,"
            " side TEXT, status TEXT, reason TEXT, quote_size TEXT, created_at TEXT, risk_checked_at TEXT)"
        )
        await db.commit()
        return cls(db)

    async def one(self) -> None:
        self._count += 1
        started = time.perf_counter_ns()
        await self._db.execute(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (f"raw-{self._count}", 1, PRODUCT, "BUY", "risk_checked", "bench", "10.00", "2025-01-01", "2025"),
        )
        await self._db.commit()
        self.stats.record(time.perf_counter_ns() - started)

    async def close(self) -> None:
        await self._db.close()


async def order_latency(workdir: Path, orders: int = 300) -> OrderLatency:
    """One bot alternates buys and sells; each signal goes through the whole order path."""
    # The paper account is durable as in ``streambot run``; the simulator's own rate limits are off
    # so that the figure is the platform's path, not a throttle.
    # In its own process, as ``streambot run`` runs it: the platform's loop is the platform's.
    simulator = SimulatorProcess(
        SimulatorConfig(products=(PRODUCT,), seed=3, state_path=workdir / "paper.db", rate_limits=False),
        log_level="WARNING",
    )
    await simulator.start("127.0.0.1", 0)
    store = Store(f"sqlite+aiosqlite:///{(workdir / 'latency.db').as_posix()}", clock=SystemClock())
    await store.open()
    exchange = CoinbaseRest(simulator.rest_url, clock=SystemClock())
    bus = InProcessBus(SystemClock())
    clock = SystemClock()
    intent_commit = LatencyStats(4096)
    insert_with_seq = store.insert_order_with_seq

    async def timed_insert(bot_id: int, make: Callable[[int], OrderRecord]) -> OrderRecord:
        started = time.perf_counter_ns()
        try:
            return await insert_with_seq(bot_id, make)
        finally:
            intent_commit.record(time.perf_counter_ns() - started)

    raw = await RawCommits.open(workdir / "raw.db")
    try:
        balances = BalanceCache(exchange.accounts, clock=clock, ttl=60.0)
        limits = RiskLimits(max_trades_per_hour=0, loss_cooldown_s=0, daily_loss_pct=Decimal(0))
        risk = RiskEngine(limits, store, publish=bus.publish, clock=clock)
        products = {p.product_id: p for p in await exchange.products([PRODUCT])}
        order_path = assemble_order_path(
            bus=bus,
            exchange=exchange,
            store=store,
            balances=balances,
            risk=risk,
            holds=ProductHolds(store=store, bus=bus, clock=clock),
            products=products,
            clock=clock,
            instance_id="bench",
            cooldown_s=0.0,
        )
        store.insert_order_with_seq = timed_insert  # type: ignore[method-assign]
        # As the feed would announce it: the bench measures orders, not the stale-price rule.
        bus.publish(FeedStateChanged(state=FeedState.LIVE, reason="bench", since=clock.time()))
        record = await store.create_bot(
            "bench", "threshold", PRODUCT, {}, Decimal(1000), state=BotState.RUNNING
        )
        bot = BotRuntime(
            record.id,
            "bench",
            "idle",
            _Idle(),
            BotContext(record.id, PRODUCT, Decimal(1000), clock=SystemClock()),
        )
        for i in range(orders):
            side = Side.BUY if i % 2 == 0 else Side.SELL
            # A bot decides at market pace, not 50 times a second: each order starts with the
            # REST budget it needs (create, status, balances), so the figure is the order path's
            # and not a wait in the client's 30 req/s limiter.
            while exchange.private_limiter.room() < _REQUESTS_PER_ORDER:  # noqa: ASYNC110 - a counter, no event
                await asyncio.sleep(0.01)
            await raw.one()
            order_path.on_signal(
                bot,
                Signal(side, "bench", budget_pct=Decimal(10 if side is Side.BUY else 100)),
                await _tick(exchange, clock),
            )
            await order_path.drain()
        return OrderLatency(
            sent=order_path.step_latency[OrderStatus.SUBMITTED.value],
            acknowledged=order_path.step_latency[OrderStatus.ACKNOWLEDGED.value],
            filled=order_path.step_latency[OrderStatus.FILLED.value],
            intent_commit=intent_commit,
            raw_commit=raw.stats,
        )
    finally:
        await raw.close()
        await exchange.close()
        await store.close()
        await simulator.stop()


def order_figures(latency: OrderLatency) -> list[Figure]:
    return [
        Figure(
            "decision → order sent to the simulator",
            f"{_ms(latency.sent)} ({latency.sent.count} orders)",
            "",
        ),
        Figure("decision → simulator acknowledged (REST answer)", _ms(latency.acknowledged), "p99 ≤ 5 ms"),
        Figure("decision → filled and booked (fills, trade)", _ms(latency.filled), ""),
        Figure(
            "intent commit (sequence number + order, one commit)", _ms(latency.intent_commit), "p99 ≤ 1 ms"
        ),
        Figure("  reference: raw aiosqlite INSERT + COMMIT, same run", _ms(latency.raw_commit), ""),
    ]


def print_order_benchmarks(*, orders: int = 300, as_json: bool = False) -> None:
    """``streambot bench orders [--json]``: paper orders against the simulator on loopback."""

    async def measure() -> OrderLatency:
        with tempfile.TemporaryDirectory(prefix="streambot-bench-") as tmp:
            return await order_latency(Path(tmp), orders)

    latency = asyncio.run(measure())
    if as_json:
        print(json.dumps(latency.as_json()))
        return
    _print_table("Orders (loopback simulator, SQLite)", order_figures(latency))


async def reconciliation(workdir: Path, open_orders: int = 1000) -> list[Figure]:
    """1,000 resting limit orders, stored as acknowledged: one reconciliation pass over them."""
    simulator = Simulator(SimulatorConfig(products=(PRODUCT,), seed=4, rate_limits=False))
    await simulator.start("127.0.0.1", 0)
    store = Store(f"sqlite+aiosqlite:///{(workdir / 'reconcile.db').as_posix()}", clock=SystemClock())
    await store.open()
    exchange = CoinbaseRest(simulator.rest_url, clock=SystemClock())
    # The orders are placed through a client of their own: the reconciling client starts with its
    # rate limiter at rest, as at a start-up, instead of behind the placements' last second.
    setup = CoinbaseRest(
        simulator.rest_url,
        clock=SystemClock(),
        private_limiter=RateLimiter("bench-setup", 100_000, clock=SystemClock()),
    )
    bus = InProcessBus(SystemClock())
    clock = SystemClock()
    try:
        risk = RiskEngine(RiskLimits(), store, publish=bus.publish, clock=clock)
        settler = Settler(
            bus=bus,
            exchange=exchange,
            store=store,
            open_orders=OpenOrders(),
            risk=risk,
            products={},
            clock=clock,
        )
        bot = await store.create_bot("recon", "threshold", PRODUCT, {}, Decimal(10_000))
        book = (await exchange.best_bid_ask([PRODUCT]))[0]
        price = (book.bid / 2).quantize(Decimal("0.01"))
        now = clock.now()
        semaphore = asyncio.Semaphore(16)

        async def place(i: int) -> None:
            client_order_id = ClientOrderId(f"rb-{i}")
            async with semaphore:
                placed = await setup.place_order(
                    OrderRequest(
                        client_order_id, PRODUCT, Side.BUY, base_size=Decimal("0.0001"), limit_price=price
                    )
                )
            await store.insert_order(
                OrderRecord(
                    client_order_id=client_order_id,
                    bot_id=bot.id,
                    product_id=PRODUCT,
                    side=Side.BUY,
                    status=OrderStatus.ACKNOWLEDGED,
                    reason="bench",
                    created_at=now,
                    base_size=Decimal("0.0001"),
                    limit_price=price,
                    exchange_order_id=placed.order_id,
                )
            )

        await asyncio.gather(*(place(i) for i in range(open_orders)))
        reconciler = Reconciler(
            store=store,
            exchange=exchange,
            settler=settler,
            bots=_NoBots(),
            in_flight=frozenset(),
            clock=clock,
        )
        before = sum(exchange.requests.values())
        started = time.perf_counter()
        report = await reconciler.run_once()
        elapsed = time.perf_counter() - started
        requests = sum(exchange.requests.values()) - before
        return [
            Figure(
                f"reconciliation of {report.checked:,} open orders",
                f"{elapsed:.2f} s ({report.still_open:,} still open, {report.errors} errors, "
                f"{requests:,} REST requests)",
                "≤ 2 s",
            )
        ]
    finally:
        await setup.close()
        await exchange.close()
        await store.close()
        await simulator.stop()


async def trade_queries(workdir: Path, bots: int = 100, per_day: int = 10, page: int = 100) -> list[Figure]:
    """A year of trades for 100 bots, then pages of the trades list as the API asks for them."""
    store = Store(f"sqlite+aiosqlite:///{(workdir / 'trades.db').as_posix()}", clock=SystemClock())
    await store.open()
    try:
        year_start = datetime(2025, 1, 1, tzinfo=UTC)
        total = bots * per_day * 365
        step = timedelta(days=365) / (per_day * 365)
        started = time.perf_counter()
        assert store._sessions is not None
        batch: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for i in range(total):
            bot = i % bots + 1
            at = year_start + step * (i // bots)
            coid = f"sb-bench-{bot}-{i}"
            side = "BUY" if i % 2 == 0 else "SELL"
            order = {
                "client_order_id": coid, "bot_id": bot, "product_id": PRODUCT, "side": side,
                "status": "filled", "reason": "bench", "quote_size": Decimal("10.00"), "base_size": None,
                "limit_price": None, "exchange_order_id": f"ex-{i}", "error": "", "error_code": "",
                "filled_size": Decimal("0.0001"), "average_price": Decimal("97000.12"),
                "filled_value": Decimal("9.70"), "fees": Decimal("0.058"), "created_at": at,
                "risk_checked_at": at, "submitted_at": at, "acknowledged_at": at, "completed_at": at,
            }  # fmt: skip
            trade = {
                "bot_id": bot, "product_id": PRODUCT, "side": side, "base_size": Decimal("0.0001"),
                "price": Decimal("97000.12"), "quote_amount": Decimal("9.70"), "fee": Decimal("0.058"),
                "net_total": Decimal("9.758"), "status": "filled", "client_order_id": coid,
                "exchange_order_id": f"ex-{i}", "reason": "bench", "created_at": at, "filled_at": at,
            }  # fmt: skip
            batch.append((order, trade))
            if len(batch) == 20_000 or i == total - 1:
                async with store._sessions() as session, session.begin():
                    await session.execute(insert(OrderRow), [o for o, _ in batch])
                    await session.execute(insert(TradeRow), [t for _, t in batch])
                batch.clear()
        loaded = time.perf_counter() - started
        mid = year_start + timedelta(days=180)
        deep = await store.list_trades(limit=page)
        for _ in range(50):  # fifty pages back: a deep keyset cursor
            deep = await store.list_trades(limit=page, before_id=deep[-1].id)
        queries: dict[str, dict[str, Any]] = {
            "newest page, all bots": {},
            "newest page of one bot": {"bot_id": 42},
            "one bot, one product, a month": {
                "bot_id": 42, "product_id": PRODUCT, "since": mid, "until": mid + timedelta(days=30)
            },
            "all bots, a day in mid-year": {"since": mid, "until": mid + timedelta(days=1)},
            "page 51 (keyset cursor)": {"before_id": deep[-1].id},
        }  # fmt: skip
        figures = [Figure("trades stored", f"{total:,} for {bots} bots ({loaded:.1f} s to load)", "")]
        for name, filters in queries.items():
            times = []
            for _ in range(20):
                t0 = time.perf_counter()
                rows = await store.list_trades(limit=page, **filters)
                times.append((time.perf_counter() - t0) * 1000)
            figures.append(
                Figure(
                    f"trades page ({page}): {name}",
                    f"median {statistics.median(times):.1f} ms · max {max(times):.1f} ms ({len(rows)} rows)",
                    "≤ 50 ms",
                )
            )
        return figures
    finally:
        await store.close()


async def run_trading_benchmarks() -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="streambot-bench-") as tmp:
        workdir = Path(tmp)
        figures = order_figures(await order_latency(workdir))
        figures += await reconciliation(workdir)
        figures += await trade_queries(workdir)
        return figures


def print_trading_benchmarks() -> None:
    _print_table("Trading engine (loopback simulator, SQLite)", asyncio.run(run_trading_benchmarks()))


def _print_table(title: str, figures: list[Figure]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("measure")
    table.add_column("figure", justify="right")
    table.add_column("target")
    for figure in figures:
        table.add_row(figure.name, figure.value, figure.target)
    Console().print(table)
