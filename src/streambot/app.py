"""Composition root: builds and wires every part; owns start-up and shutdown order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from streambot.alerts.manager import AlertManager, alert_manager_for
from streambot.api.live.hub import EventHub
from streambot.api.market_candles import MarketCandles
from streambot.bots import BotManager
from streambot.bus import Bus
from streambot.clock import Clock, SystemClock
from streambot.config import MarketData, Mode, Settings
from streambot.domain import Product
from streambot.evaluator import BotRuntime, StreamingEvaluator
from streambot.exchange import ExchangeError
from streambot.feed.client import FeedClient
from streambot.risk.base import RiskLimits
from streambot.risk.engine import RiskEngine
from streambot.simulator.server import Simulator, SimulatorConfig
from streambot.store.database import Store
from streambot.strategies.base import LiveBalances
from streambot.strategies.user import load_user_strategies
from streambot.strategies.warmup import CandleHistory
from streambot.trading.balances import BalanceCache
from streambot.trading.desk import TradingDesk
from streambot.trading.equity import EquityWatcher
from streambot.trading.kill_switch import KillSwitch
from streambot.trading.open_orders import OpenOrders
from streambot.trading.order_path import OrderPath
from streambot.trading.pnl import AccountFigures
from streambot.trading.reconcile import Reconciler
from streambot.trading.settlement import Settler
from streambot.venues.coinbase.auth import AuthError
from streambot.venues.coinbase.client import CoinbaseRest
from streambot.venues.coinbase.keys import resolve_api_key

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Start-up cannot go on; the message is one sentence for the user."""


DEMO_BOTS: tuple[tuple[str, str, str, dict[str, object], Decimal], ...] = (
    (
        "Demo dip buyer BTC",
        "threshold",
        "BTC-USD",
        {"buy_dip_pct": 0.05, "sell_rise_pct": 0.1},
        Decimal(1000),
    ),
    (
        "Demo dip buyer ETH",
        "threshold",
        "ETH-USD",
        {"buy_dip_pct": 0.05, "sell_rise_pct": 0.1},
        Decimal(1000),
    ),
    (
        "Demo dip buyer SOL",
        "threshold",
        "SOL-USD",
        {"buy_dip_pct": 0.08, "sell_rise_pct": 0.15},
        Decimal(500),
    ),
    ("Demo EMA cross ETH", "ema_crossover", "ETH-USD", {"fast": 8, "slow": 21}, Decimal(1000)),
    ("Demo EMA cross DOGE", "ema_crossover", "DOGE-USD", {"fast": 8, "slow": 21}, Decimal(500)),
)


def limits_from(settings: Settings) -> RiskLimits:
    return RiskLimits(
        max_order_notional=settings.risk_max_order_notional,
        max_position_notional=settings.risk_max_position_notional,
        daily_loss_pct=settings.risk_daily_loss_pct,
        max_drawdown_pct=settings.risk_max_drawdown_pct,
        loss_cooldown_s=settings.risk_loss_cooldown_s,
        max_trades_per_hour=settings.risk_max_trades_per_hour,
        stale_price_s=settings.risk_stale_price_s,
        halt_allows_exits=settings.risk_halt_allows_exits,
    )


def read_or_create_secret(path: Path, make: str) -> str:
    """A value kept in a 0600 file in the data dir, created on first use."""
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(make + "\n")
    os.chmod(path, 0o600)
    return make


class Platform:
    """Everything one streambot process runs. ``start`` then ``stop``; the API reads its parts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock: Clock = SystemClock()
        self.bus = Bus()
        self.started_at = time.time()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.api_token = (
            settings.api_token.get_secret_value()
            if settings.api_token is not None
            else read_or_create_secret(settings.data_dir / "api_token", secrets.token_urlsafe(24))
        )
        self.instance_id = read_or_create_secret(settings.data_dir / "instance_id", secrets.token_hex(4))
        self.store = Store(settings.resolved_database_url, clock=self.clock)
        self.simulator: Simulator | None = None
        if settings.mode is Mode.PAPER:
            self.simulator = Simulator(
                SimulatorConfig(
                    products=settings.products,
                    seed=settings.sim_seed,
                    synthetic=settings.market_data is MarketData.SIM,
                    # The paper account outlives the process, as a Coinbase account would.
                    state_path=settings.data_dir / "paper_account.db",
                )
            )
        self._session: aiohttp.ClientSession | None = None
        self.exchange: CoinbaseRest | None = None
        self.feed: FeedClient | None = None
        self.balances: BalanceCache | None = None
        self.order_path: OrderPath | None = None
        self._trading: TradingDesk | None = None
        self.evaluator: StreamingEvaluator | None = None
        self.bots: BotManager | None = None
        # Live push and alerts subscribe to the bus here, so no event of the start-up is missed.
        self.events = EventHub(
            self.bus, ring_size=settings.ws_ring_size, ping_interval=settings.ws_ping_interval_s
        )
        self.candles = MarketCandles(self.bus, settings.products)
        self.alerts: AlertManager = alert_manager_for(self)
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()

    # --- start-up --------------------------------------------------------------------------

    async def start(self) -> None:
        settings = self.settings
        await self.store.open()
        if self.simulator is not None:
            await self.simulator.start("127.0.0.1", settings.sim_port)
            rest_url = self.simulator.rest_url
            ws_url = (
                self.simulator.ws_url if settings.market_data is MarketData.SIM else settings.coinbase_ws_url
            )
        else:
            rest_url, ws_url = settings.coinbase_rest_url, settings.coinbase_ws_url
        self._session = aiohttp.ClientSession()
        key = settings.coinbase_api_key.get_secret_value() if settings.coinbase_api_key else None
        secret = settings.coinbase_api_secret.get_secret_value() if settings.coinbase_api_secret else None
        live = settings.mode is Mode.LIVE
        try:
            api_key = resolve_api_key(key, secret, settings.coinbase_key_file) if live else None
        except AuthError as exc:
            raise StartupError(str(exc)) from None
        self.exchange = CoinbaseRest(
            rest_url,
            api_key=api_key.name if api_key else None,
            api_secret=api_key.secret if api_key else None,
            session=self._session,
        )
        self.balances = balances = BalanceCache(
            self.exchange.accounts, clock=self.clock, ttl=settings.balance_cache_ttl
        )
        products = {p.product_id: p for p in await self._load_products()}
        # The trading parts, each built complete: the order path before the evaluator that hands
        # it signals, the bots (whose contexts fills move) before reconciliation.
        risk = RiskEngine(limits_from(settings), self.store, publish=self.bus.publish, clock=self.clock)
        open_orders = OpenOrders()
        settler = Settler(
            bus=self.bus,
            exchange=self.exchange,
            store=self.store,
            open_orders=open_orders,
            risk=risk,
            products=products,
            clock=self.clock,
        )
        self.order_path = order_path = OrderPath(
            bus=self.bus,
            exchange=self.exchange,
            store=self.store,
            balances=balances,
            risk=risk,
            open_orders=open_orders,
            settler=settler,
            products=products,
            feed_state=lambda: self.feed.state if self.feed is not None else "connecting",
            clock=self.clock,
            instance_id=self.instance_id,
            cooldown_s=settings.order_cooldown_s,
        )
        self.evaluator = StreamingEvaluator(self.bus, order_path.on_signal, self._on_bot_error)
        self.bots = BotManager(
            self.store,
            self.evaluator,
            self.bus,
            settings.products,
            products,
            history=CandleHistory(self.exchange.candles),
            balances=LiveBalances(lambda: balances.latest),
        )
        figures = AccountFigures(
            bots=self.bots, balances=balances, latest=self.bus.latest, products=settings.products
        )
        self._trading = trading = TradingDesk(
            store=self.store,
            risk=risk,
            open_orders=open_orders,
            settler=settler,
            order_path=order_path,
            reconciler=Reconciler(
                store=self.store,
                exchange=self.exchange,
                settler=settler,
                bots=self.bots,
                in_flight=order_path.in_flight,
                clock=self.clock,
            ),
            equity=EquityWatcher(
                risk=risk,
                store=self.store,
                figures=figures,
                clock=self.clock,
                check_every=settings.equity_check_interval_s,
                snapshot_every=settings.equity_snapshot_interval_s,
            ),
            kill_switch=KillSwitch(
                risk=risk, open_orders=open_orders, store=self.store, exchange=self.exchange
            ),
            figures=figures,
            clock=self.clock,
            reconcile_every=settings.reconcile_interval_s,
        )
        # Risk state back, downtime reconciled, before the bots replay their fills.
        await trading.recover()
        if settings.strategy_dir is not None:
            # Before the bots load, so a bot on a user strategy finds it (or its load error).
            load_user_strategies(settings.strategy_dir)
        await self.bots.load()
        if settings.demo_bots:
            await self._create_demo_bots()
        self.feed = FeedClient(
            ws_url,
            settings.products,
            self.bus,
            session=self._session,
            # Live: order updates on the user channel; a lost one makes the engine reconcile.
            channels=("ticker", "heartbeats", "user") if live else ("ticker", "heartbeats"),
            jwt_factory=self.exchange.ws_jwt_factory,
            prices=self.exchange.best_bid_ask,
            poll_interval=settings.rest_poll_interval,
            on_user_gap=self._reconcile_after_user_gap,
        )
        self._spawn(self.evaluator.run(), "evaluator")
        self._spawn(self.evaluator.run_polling(settings.legacy_poll_interval), "legacy-polling")
        self._spawn(self.feed.run(), "feed")
        if self.simulator is not None and settings.market_data is MarketData.COINBASE:
            self._spawn(self._follow_live_prices(self.simulator), "paper-market")
        self._spawn(self._log_summary(), "summary")
        for coro, name in trading.background():
            self._spawn(coro, name)
        self._spawn(self.events.run(), "live-push")
        self._spawn(self.candles.run(), "chart-candles")
        self._spawn(self.alerts.run(), "alerts")
        log.info(
            "✅ streambot started: mode=%s market=%s products=%d bots=%d store=%s",
            settings.mode.value,
            settings.market_data.value,
            len(settings.products),
            len(await self.bots.list()),
            self.store.url,
        )

    async def _load_products(self) -> list[Product]:
        assert self.exchange is not None
        wanted = list(self.settings.products)
        for attempt in range(10):
            try:
                products = await self.exchange.products(wanted)
                found = {p.product_id for p in products}
                missing = [p for p in wanted if p not in found]
                if missing:
                    raise StartupError(
                        f"the exchange does not list {', '.join(missing)} (STREAMBOT_PRODUCTS)"
                    )
                return [p for p in products if p.product_id in wanted]
            except ExchangeError as exc:
                log.warning("Products not available yet (%s); retrying", exc)
                await asyncio.sleep(min(5.0, 0.5 * 2**attempt))
        raise StartupError("could not read the products' trading rules from the exchange")

    @property
    def trading(self) -> TradingDesk:
        """The trading parts; built by ``start``, which the API and the alerts always run after."""
        if self._trading is None:
            raise RuntimeError("the platform is not started")
        return self._trading

    async def start_feed(self) -> None:
        """Resume the market-data stream after ``stop_feed``."""
        if self.feed is None:
            return
        if self.feed.status().running:
            self.feed.start_stream()
        else:
            self._spawn(self.feed.run(), "feed")

    async def stop_feed(self) -> None:
        """Close the market-data stream; prices keep coming from REST polling (state ``polling``)."""
        if self.feed is not None:
            await self.feed.stop_stream()

    async def _reconcile_after_user_gap(self, reason: str) -> None:
        await self.trading.reconciler.run_once()

    async def _create_demo_bots(self) -> None:
        assert self.bots is not None
        marker = self.settings.data_dir / "demo_bots_created"
        if marker.exists():
            return
        if not await self.bots.list():
            for name, strategy, product, params, budget in DEMO_BOTS:
                if product not in self.settings.products:
                    continue
                record = await self.bots.create(
                    name=name, strategy=strategy, product_id=product, params=params, budget=budget
                )
                await self.bots.start(record.id)
            log.info("🤖 Created the demo bots (first run only; delete them freely)")
        marker.write_text("demo bots were created on the first run; they are not recreated\n")

    def _on_bot_error(self, bot: BotRuntime, exc: BaseException) -> None:
        assert self.bots is not None
        self._background_task(self.bots.record_error(bot.bot_id, bot.error_reason))

    async def _follow_live_prices(self, simulator: Simulator) -> None:
        """Paper trading on real prices: the simulator's market follows the live feed."""
        mailbox = self.bus.tick_mailbox("paper-market")
        try:
            while True:
                tick = await mailbox.get()
                simulator.market.apply_external_tick(
                    tick.product_id, tick.price, tick.best_bid, tick.best_ask
                )
        finally:
            self.bus.remove_mailbox(mailbox)

    async def _log_summary(self, every: float = 10.0) -> None:
        """One readable line every few seconds instead of a line per tick."""
        assert self.evaluator is not None
        assert self.order_path is not None
        assert self.balances is not None
        last_ticks, last_time = self.bus.ticks_published, time.monotonic()
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            ticks = self.bus.ticks_published
            rate = (ticks - last_ticks) / (now - last_time)
            last_ticks, last_time = ticks, now
            latency = self.evaluator.tick_to_decision.summary()
            log.info(
                "📈 %d ticks (%.0f/s) · 🤖 %d evaluations, tick→decision p50 %.0fµs p99 %.0fµs · "
                "✅ %d orders filled, %d rejected · 💾 balance cache hit rate %.0f%%",
                ticks,
                rate,
                self.evaluator.evaluations,
                latency["p50_us"],
                latency["p99_us"],
                self.order_path.orders_filled,
                self.order_path.orders_rejected,
                self.balances.hit_rate * 100,
            )

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coro, name), name=name)
        self._tasks.append(task)

    async def _guard(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("❌ %s stopped with an error", name)

    def _background_task(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(coro, "background"))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- shutdown --------------------------------------------------------------------------

    async def stop(self) -> None:
        if self.feed is not None:
            await self.feed.stop()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self.order_path is not None:
            await self.order_path.drain()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self.exchange is not None:
            await self.exchange.close()
        if self._session is not None:
            await self._session.close()
        if self.simulator is not None:
            await self.simulator.stop()
        await self.store.close()
        log.info("✅ streambot stopped")
