"""Composition root: builds and wires every part; owns start-up and shutdown order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from streambot.alerts.manager import AlertManager
from streambot.alerts.notify import Notifier, TelegramNotifier, WebhookNotifier
from streambot.alerts.rules import Readings, Rules
from streambot.api.live.hub import EventHub
from streambot.api.market_candles import MarketCandles
from streambot.bots import BotManager
from streambot.bus import Bus, InProcessBus, PriceBoard
from streambot.clock import Clock, SystemClock
from streambot.config import MarketData, Mode, Settings
from streambot.domain import Product
from streambot.evaluator import BotRuntime, StreamingEvaluator
from streambot.exchange import ExchangeError
from streambot.executor import Executor
from streambot.feed.client import FeedClient
from streambot.simulator.server import Simulator, SimulatorConfig
from streambot.store.database import Store
from streambot.strategies.base import LiveBalances
from streambot.strategies.user import load_user_strategies
from streambot.strategies.warmup import CandleHistory
from streambot.trading.balances import BalanceCache
from streambot.trading.engine import TradingEngine
from streambot.venues.coinbase.client import CoinbaseRest
from streambot.venues.coinbase.key_material import AuthError
from streambot.venues.coinbase.keys import resolve_api_key
from streambot.venues.factory import CoinbaseVenue, open_exchange

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

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        # The one clock every part reads; a test or a backtest passes its own.
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.bus: Bus = InProcessBus(self.clock)
        self.prices = PriceBoard()
        self.started_at = self.clock.time()  # UNIX seconds
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.api_token = (
            settings.api_token.get_secret_value()
            if settings.api_token is not None
            else read_or_create_secret(settings.data_dir / "api_token", secrets.token_urlsafe(24))
        )
        self.instance_id = read_or_create_secret(settings.data_dir / "instance_id", secrets.token_hex(4))
        self.store = Store(settings.resolved_database_url)
        self.trading = TradingEngine(settings, self.bus, self.store, self.prices)
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
        self.executor: Executor | None = None
        self.evaluator: StreamingEvaluator | None = None
        self.bots: BotManager | None = None
        # Live push and alerts subscribe to the bus here, so no event of the start-up is missed.
        self.events = EventHub(
            self.bus,
            clock=self.clock,
            ring_size=settings.ws_ring_size,
            ping_interval=settings.ws_ping_interval_s,
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
        self.exchange = open_exchange(
            CoinbaseVenue(rest_url, api_key=api_key), clock=SystemClock(), session=self._session
        )
        self.balances = balances = BalanceCache(self.exchange.accounts, ttl=settings.balance_cache_ttl)
        self.executor = Executor(
            bus=self.bus,
            exchange=self.exchange,
            store=self.store,
            balances=self.balances,
            instance_id=self.instance_id,
            cooldown_s=settings.order_cooldown_s,
            risk=self.trading.risk,
            book=self.trading.book,
            feed_state=lambda: self.feed.state if self.feed is not None else "connecting",
        )
        self.executor.products = {p.product_id: p for p in await self._load_products()}
        # Risk state back, downtime reconciled, before the bots replay their fills.
        await self.trading.prepare(self.executor, self.exchange)
        self.evaluator = StreamingEvaluator(
            self.bus, self.executor.on_signal, self._on_bot_error, prices=self.prices, clock=self.clock
        )
        if settings.strategy_dir is not None:
            # Before the bots load, so a bot on a user strategy finds it (or its load error).
            load_user_strategies(settings.strategy_dir)
        self.bots = BotManager(
            self.store,
            self.evaluator,
            self.bus,
            settings.products,
            self.executor.products,
            history=CandleHistory(self.exchange.candles, self.clock),
            balances=LiveBalances(lambda: balances.latest),
            clock=self.clock,
        )
        await self.bots.load()
        self.trading.attach(self.bots, self.balances)
        if settings.demo_bots:
            await self._create_demo_bots()
        self.feed = FeedClient(
            ws_url,
            settings.products,
            self.bus,
            board=self.prices,
            clock=self.clock,
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
        for coro, name in self.trading.background():
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
                await self.clock.sleep(min(5.0, 0.5 * 2**attempt))
        raise StartupError("could not read the products' trading rules from the exchange")

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
        reconciler = self.trading.reconciler
        if reconciler is not None:
            await reconciler.run_once()

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
        assert self.executor is not None
        assert self.balances is not None
        clock = self.clock
        last_ticks, last_time = self.prices.ticks_published, clock.monotonic()
        while True:
            await clock.sleep(every)
            now = clock.monotonic()
            ticks = self.prices.ticks_published
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
                self.executor.orders_filled,
                self.executor.orders_rejected,
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
        if self.executor is not None:
            await self.executor.drain()
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


def alert_notifiers(settings: Settings) -> list[Notifier]:
    """The webhook and Telegram notifiers the settings configure (none by default)."""
    notifiers: list[Notifier] = []
    if settings.alert_webhook_url is not None:
        notifiers.append(WebhookNotifier(settings.alert_webhook_url.get_secret_value()))
    if settings.telegram_bot_token is not None and settings.telegram_chat_id is not None:
        notifiers.append(
            TelegramNotifier(
                settings.telegram_bot_token.get_secret_value(),
                settings.telegram_chat_id.get_secret_value(),
                settings.telegram_api_url,
            )
        )
    return notifiers


def alert_readings(platform: Platform) -> Readings:
    """The figures the alert rules judge, read from the platform's parts at one instant."""
    feed = platform.feed
    balances = platform.balances
    exchange = platform.exchange
    return Readings(
        feed_state=feed.state if feed is not None else None,
        evaluation_errors=platform.evaluator.errors if platform.evaluator else 0,
        # Joining a refresh already under way costs the exchange nothing: a hit for this rule.
        cache_hits=balances.hits + balances.joined if balances else 0,
        cache_misses=balances.misses if balances else 0,
        breaker_state=exchange.breaker.state if exchange is not None else None,
    )


def alert_manager_for(platform: Platform) -> AlertManager:
    settings = platform.settings
    return AlertManager(
        platform.bus,
        lambda: alert_readings(platform),
        platform.clock,
        rules=Rules(
            feed_down_after_s=settings.alert_feed_down_s,
            min_cache_lookups=settings.alert_min_cache_lookups,
        ),
        notifiers=alert_notifiers(settings),
        interval=settings.alert_check_interval_s,
    )
