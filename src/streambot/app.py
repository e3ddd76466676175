"""Composition root: builds every part complete, in an order where each one's collaborators
already exist, and owns start-up and shutdown order.

``Platform.open`` does what building needs I/O for (the store, the paper simulator, the exchange's
trading rules) and returns a platform whose parts are all there: nothing is ``None`` until a
later call, and no part has a collaborator attached after it was built. ``start`` then recovers
(risk state, downtime reconciliation), loads the bots and runs the background work; ``stop``
undoes it all in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import gc
import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Sequence
from contextlib import AsyncExitStack
from decimal import Decimal
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from streambot.alerts.manager import AlertManager
from streambot.alerts.notify import Notifier, TelegramNotifier, WebhookNotifier
from streambot.alerts.rules import Readings, Rules
from streambot.api.closing import close_here
from streambot.api.live.hub import EventHub
from streambot.api.market_candles import MarketCandles
from streambot.api.optimizations import OptimizationRuns
from streambot.api.summary import Summary
from streambot.backtest.runs.queue import BacktestQueue
from streambot.bots import BotManager
from streambot.bus import Bus, InProcessBus, PriceBoard
from streambot.clock import Clock, SystemClock
from streambot.cluster.ownership import BotOwnership, FollowedElsewhere, WorkerReading, wait_or_sleep
from streambot.cluster.rate_bucket import RedisRateLimiter
from streambot.cluster.remote_close import CloseCommands, CloseOutcome
from streambot.cluster.roster import ClusterRoster
from streambot.cluster.shared_balances import SharedBalanceCache
from streambot.cluster.streams import StreamNames
from streambot.cluster.streams_bus import RedisStreamsBus
from streambot.cluster.user_gaps import UserGapFollower, announce_user_gap
from streambot.config import MarketData, Mode, Role, Settings
from streambot.domain import (
    BotId,
    BotRecord,
    BotState,
    FeeSource,
    FeeTier,
    FencingTokens,
    Product,
    ProductId,
)
from streambot.evaluator import StreamingEvaluator
from streambot.events import (
    BotCreated,
    BotDeleted,
    BotStateChanged,
    BotUpdated,
    Event,
    FeedStateChanged,
    KillSwitchChanged,
    PositionMismatchAcknowledged,
    PositionMismatchFound,
    RiskHalted,
    RiskResumed,
    TradeBooked,
)
from streambot.exchange import Exchange, ExchangeError
from streambot.feed.client import FeedClient
from streambot.feed.recorder import FeedRecorder
from streambot.observability.activity import ActivityLog, CacheReading, ProductBots
from streambot.observability.requests import RequestStats
from streambot.observability.supervisor import Supervisor, TaskFactory
from streambot.risk.base import RiskLimits
from streambot.risk.engine import RiskEngine
from streambot.simulator.process import SimulatorFailed, SimulatorProcess
from streambot.simulator.server import SimulatorConfig
from streambot.store.database import Store, UnknownSchema
from streambot.strategies.base import LiveBalances
from streambot.strategies.user import load_user_strategies
from streambot.strategies.warmup import CandleHistory
from streambot.telegram.bot_api import BotApi
from streambot.telegram.commands import TelegramCommands
from streambot.telegram.confirmations import PendingConfirmations
from streambot.telegram.control import TelegramControl
from streambot.trading.balance_check import BalanceCheck
from streambot.trading.balances import AccountBalances, BalanceCache
from streambot.trading.desk import TradingDesk
from streambot.trading.equity import EquityWatcher
from streambot.trading.fault_point import FaultPoint
from streambot.trading.fees import FeeSchedule
from streambot.trading.holds import ProductHolds
from streambot.trading.kill_switch import KillSwitch
from streambot.trading.lease import TRADING_LEASE, DatabaseLease, LeaseRefused, pid_alive
from streambot.trading.order_path import OrderPath, assemble_order_path
from streambot.trading.pnl import AccountFigures
from streambot.trading.reconcile import Reconciler
from streambot.trading.sweep import ExchangeSweep
from streambot.venues.coinbase.client import CoinbaseRest
from streambot.venues.coinbase.key_check import CHECK_TIMEOUT_S, KeyProblem, check_api_key
from streambot.venues.coinbase.key_material import AuthError
from streambot.venues.coinbase.keys import ApiKey, resolve_api_key
from streambot.venues.coinbase.rate_limit import PRIVATE_PER_S, PUBLIC_PER_S, RateLimiter
from streambot.venues.coinbase.sent_trace import sent_trace
from streambot.venues.factory import CoinbaseVenue, open_exchange

log = logging.getLogger(__name__)


class StartupError(Exception):
    """Start-up cannot go on; the message is one sentence for the user."""


ACCOUNT_LEASE = "account"  # in a cluster: the worker that reconciles the account (one at a time)
# Events after which a cluster process reads the account's risk state again from the store.
_RISK_EVENTS: tuple[type[Event], ...] = (
    KillSwitchChanged,
    RiskHalted,
    RiskResumed,
    PositionMismatchFound,
    PositionMismatchAcknowledged,
)
_BOT_EVENTS: tuple[type[Event], ...] = (BotCreated, BotUpdated, BotDeleted, BotStateChanged)


# Every demo take-profit clears the round trip at Coinbase's entry tier (2 × 1.2 % taker, break-even
# at a 2.43 % rise) with a margin, so each demo sell makes money after fees.
DEMO_BOTS: tuple[tuple[str, str, str, dict[str, object], Decimal], ...] = (
    (
        "Demo dip buyer BTC",
        "threshold",
        "BTC-USD",
        {"buy_dip_pct": 0.05, "sell_rise_pct": 3.0},
        Decimal(1000),
    ),
    (
        "Demo dip buyer ETH",
        "threshold",
        "ETH-USD",
        {"buy_dip_pct": 0.05, "sell_rise_pct": 3.0},
        Decimal(1000),
    ),
    (
        "Demo dip buyer SOL",
        "threshold",
        "SOL-USD",
        {"buy_dip_pct": 0.08, "sell_rise_pct": 3.5},
        Decimal(500),
    ),
    (
        "Demo EMA cross ETH",
        "ema_crossover",
        "ETH-USD",
        {"fast": 8, "slow": 21, "take_profit_pct": 3.0, "sell_on_cross": False},
        Decimal(1000),
    ),
    (
        "Demo EMA cross DOGE",
        "ema_crossover",
        "DOGE-USD",
        {"fast": 8, "slow": 21, "take_profit_pct": 3.0, "sell_on_cross": False},
        Decimal(500),
    ),
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


# What ``streambot backtest`` reads of the settings: the platform's values, not the environment's,
# so a run started from the API trades under the same limits as the platform's bots.
_BACKTEST_SETTINGS = (
    "risk_max_order_notional",
    "risk_max_position_notional",
    "risk_daily_loss_pct",
    "risk_max_drawdown_pct",
    "risk_loss_cooldown_s",
    "risk_max_trades_per_hour",
    "risk_stale_price_s",
    "risk_halt_allows_exits",
    "order_cooldown_s",
    "log_format",
    # The user's strategy folder: a run from the API may replay a bot on a user strategy.
    "strategy_dir",
)


def backtest_env(settings: Settings) -> dict[str, str]:
    """The environment of a backtest's child process: no STREAMBOT_* of ours (a replay needs no
    API token or Coinbase key), the settings it reads, and wide lines for its error sentences."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("STREAMBOT_")}
    for name in _BACKTEST_SETTINGS:
        value = getattr(settings, name)
        if value is None:
            continue
        env[f"STREAMBOT_{name.upper()}"] = str(value.value if isinstance(value, enum.Enum) else value)
    env["COLUMNS"] = "400"
    return env


def freeze_start_up() -> None:
    """Move what start-up built (modules, the app, parts, strategies: hundreds of thousands of
    objects that live until exit) out of the collector's reach. Otherwise every full collection
    walks all of them again: a pause of 100-500 ms on this heap, during which no tick is decided
    and no request answered. Objects made later are collected as usual; ``stop`` gives them back
    (a process that runs several platforms in turn, like the test suite, frees the old ones)."""
    gc.freeze()


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
    """Every part of one streambot process, each one complete. Build with ``await Platform.open``."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        api_token: str,
        instance_id: str,
        bus: Bus,
        prices: PriceBoard,
        store: Store,
        lease: DatabaseLease | None,
        simulator: SimulatorProcess | None,
        session: aiohttp.ClientSession,
        exchange: CoinbaseRest,
        balances: AccountBalances,
        order_path: OrderPath,
        evaluator: StreamingEvaluator,
        bots: BotManager,
        trading: TradingDesk,
        feed: FeedClient,
        candles: MarketCandles,
        bot_errors: asyncio.Queue[tuple[BotId, str]],
        recorder: FeedRecorder | None = None,
        role: Role = Role.ALL,
        redis: Redis | None = None,
        cluster_bus: RedisStreamsBus | None = None,
        ownership: BotOwnership | None = None,
        roster: ClusterRoster | None = None,
    ) -> None:
        self.role = role
        self.roster = roster  # a cluster's API process: the workers as last read, for health and metrics
        self._redis = redis
        self.cluster_bus = cluster_bus  # the cluster's roles: the bus that also speaks Redis
        self.ownership = ownership  # a cluster worker: which bots it owns
        self.settings = settings
        self.clock = clock
        self.started_at = clock.time()  # UNIX seconds
        self.api_token = api_token
        self.instance_id = instance_id
        self.bus = bus
        self.prices = prices
        self.store = store
        self.lease = lease  # ``streambot run``: one process per database; a worker: the account's duties
        self.simulator = simulator  # paper mode's venue; None when trading live
        self._session = session
        self.exchange = exchange
        self.balances = balances
        self.order_path = order_path
        self.evaluator = evaluator
        self.bots = bots
        self.trading = trading
        self.feed = feed
        self.recorder = recorder  # the feed's own recording (STREAMBOT_RECORD_DIR), if any
        self.candles = candles
        # Every background task runs under it: one that dies is restarted (and alerted on).
        self.supervisor = Supervisor(clock)
        self.alerts = alert_manager_for(self)
        # Commands over Telegram (None unless a bot token is configured).
        self.telegram = telegram_control_for(self)
        self.activity = ActivityLog(
            prices,
            lambda: bots_by_product(evaluator),
            lambda: CacheReading(balances.age, balances.hit_rate),
            clock,
            interval_s=settings.log_activity_interval_s,
        )
        # What the API and the live push report: built here, once every part it reads exists.
        self.requests = RequestStats()
        self.summary = Summary(self, clock, self.requests)
        # Live push subscribes to the bus before ``start``, so no event of the start-up is missed.
        self.events = EventHub(
            bus,
            clock=clock,
            ring_size=settings.ws_ring_size,
            ping_interval=settings.ws_ping_interval_s,
            status_source=self.summary.status_frame,
        )
        # Backtests the API starts: each in a child process, kept under the data dir.
        self.backtests = BacktestQueue(
            settings.data_dir / "backtests",
            bus,
            clock,
            parallel=settings.backtest_workers,
            env=backtest_env(settings),
        )
        # A close of a running bot in a cluster: asked by the API process, done by its owner.
        self.closes = CloseCommands(bus, clock, timeout_s=settings.exchange_timeout_s + 5.0)
        # Parameter searches the API starts: each a child process too, kept under the data dir.
        self.optimizations = OptimizationRuns(
            settings.data_dir / "optimizations",
            bus,
            clock,
            settings.data_dir,
            env=backtest_env(settings),
        )
        self._bot_errors = bot_errors
        # Bots a first live start stopped (they were running in paper mode): the plan names them.
        self.stopped_for_live: list[BotRecord] = []

    # --- building --------------------------------------------------------------------------

    @classmethod
    async def open(cls, settings: Settings, clock: Clock | None = None, role: Role = Role.ALL) -> Platform:
        """Build every part; whatever was opened is closed again if a later step fails."""
        async with AsyncExitStack() as opened:
            platform = await cls._build(settings, clock if clock is not None else SystemClock(), opened, role)
            opened.pop_all()
        return platform

    @classmethod
    async def _build(
        cls, settings: Settings, clock: Clock, opened: AsyncExitStack, role: Role = Role.ALL
    ) -> Platform:
        cluster = role is not Role.ALL
        if cluster and (problem := settings.cluster_problem()) is not None:
            raise StartupError(problem)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        api_token = (
            settings.api_token.get_secret_value()
            if settings.api_token is not None
            else read_or_create_secret(settings.data_dir / "api_token", secrets.token_urlsafe(24))
        )
        instance_id = read_or_create_secret(settings.data_dir / "instance_id", secrets.token_hex(4))
        live = settings.mode is Mode.LIVE
        key = settings.coinbase_api_key.get_secret_value() if settings.coinbase_api_key else None
        secret = settings.coinbase_api_secret.get_secret_value() if settings.coinbase_api_secret else None
        try:
            api_key = resolve_api_key(key, secret, settings.coinbase_key_file) if live else None
        except AuthError as exc:
            raise StartupError(str(exc)) from None
        if api_key is not None:
            # Before anything is opened: a key Coinbase refuses is one sentence within seconds.
            await check_live_key(settings.coinbase_rest_url, api_key, clock)

        prices = PriceBoard()
        bus: Bus
        redis: Redis | None = None
        cluster_bus: RedisStreamsBus | None = None
        if cluster:
            redis = Redis.from_url(settings.redis_url, socket_timeout=5.0, socket_connect_timeout=2.0)
            opened.push_async_callback(redis.aclose)
            bus = cluster_bus = RedisStreamsBus(
                redis,
                clock,
                names=StreamNames(settings.cluster_name),
                origin=f"{role.value}-{secrets.token_hex(6)}",
                products=settings.products,
                board=prices,
                publish_ticks=role is Role.FEED,
                read_ticks=role is not Role.FEED,
                lost_after_s=settings.redis_lost_s,
            )
        else:
            bus = InProcessBus(clock)

        # A worker's intents are checked against its bot leases (cluster/ownership.py).
        fencing = FencingTokens(f"worker-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}")
        store = Store(
            settings.resolved_database_url, clock=clock, fencing=fencing if role is Role.WORKER else None
        )
        try:
            await store.open()
        except UnknownSchema as exc:
            raise StartupError(str(exc)) from None
        opened.push_async_callback(store.close)
        lease: DatabaseLease | None = None
        if role in (Role.ALL, Role.WORKER):
            lease = DatabaseLease(
                store=store,
                clock=clock,
                holder_id=secrets.token_hex(8),
                host=socket.gethostname(),
                pid=os.getpid(),
                # A cluster's account duties move as fast as its bots do.
                renew_every=settings.bot_lease_renew_s if cluster else settings.lease_renew_s,
                stale_after=settings.bot_lease_stale_s if cluster else settings.lease_stale_s,
                alive=pid_alive,
                name=ACCOUNT_LEASE if cluster else TRADING_LEASE,
            )
        if lease is not None and not cluster:
            # One process trades per database: before anything else (the paper account, the feed).
            try:
                await lease.take()
            except LeaseRefused as exc:
                raise StartupError(str(exc)) from None
            opened.push_async_callback(lease.release)
        simulator: SimulatorProcess | None = None
        if settings.mode is Mode.PAPER and settings.sim_url:
            rest_url = settings.sim_url.rstrip("/")
            ws_url = (
                "ws" + rest_url.removeprefix("http")
                if settings.market_data is MarketData.SIM
                else settings.coinbase_ws_url
            )
        elif settings.mode is Mode.PAPER:
            # Its own process: the market and the paper account's matching and fsyncs never take
            # the platform's event loop (nor its GIL), and its history is not the platform's memory.
            simulator = SimulatorProcess(
                SimulatorConfig(
                    products=settings.products,
                    seed=settings.sim_seed,
                    tick_rate_scale=settings.sim_tick_rate_scale,
                    synthetic=settings.market_data is MarketData.SIM,
                    maker_fee_rate=settings.paper_maker_fee_rate,
                    taker_fee_rate=settings.paper_taker_fee_rate,
                    # The paper account outlives the process, as a Coinbase account would.
                    state_path=settings.data_dir / "paper_account.db",
                ),
                log_level=settings.log_level,
                log_format=settings.log_format.value,
            )
            try:
                await simulator.start("127.0.0.1", settings.sim_port)
            except SimulatorFailed as exc:
                raise StartupError(str(exc)) from None
            opened.push_async_callback(simulator.stop)
            rest_url = simulator.rest_url
            ws_url = simulator.ws_url if settings.market_data is MarketData.SIM else settings.coinbase_ws_url
        else:
            rest_url, ws_url = settings.coinbase_rest_url, settings.coinbase_ws_url
        # The order path's ``submitted`` is the moment the create-order request is written.
        session = aiohttp.ClientSession(trace_configs=[sent_trace()])
        opened.push_async_callback(session.close)
        shared_limits: dict[str, RateLimiter] = {}
        # The account's keys in Redis: what a cluster's processes share of one Coinbase account.
        account = api_key.name if api_key is not None else "paper"
        account_key = hashlib.sha256(account.encode()).hexdigest()[:16]
        if redis is not None:
            # One Coinbase budget per account across the cluster's processes.
            bucket = f"{settings.cluster_name}:rate:{account_key}"
            for kind, limit in (("private", PRIVATE_PER_S), ("public", PUBLIC_PER_S)):
                shared_limits[kind] = RedisRateLimiter(
                    kind, limit, redis=redis, key=f"{bucket}:{kind}", clock=clock
                )
        exchange = open_exchange(
            CoinbaseVenue(
                rest_url,
                api_key=api_key,
                timeout=settings.exchange_timeout_s,
                private_limiter=shared_limits.get("private"),
                public_limiter=shared_limits.get("public"),
            ),
            clock=clock,
            session=session,
        )
        opened.push_async_callback(exchange.close)
        # The dashboard's charts open on the venue's candles (the simulator's seeded history in paper).
        candles = MarketCandles(bus, settings.products, history=exchange.candles, clock=clock)
        balances: AccountBalances
        if redis is not None:
            # One balance cache per account across the cluster, refreshed by one process at a time.
            balances = SharedBalanceCache(
                exchange.accounts,
                redis=redis,
                key=f"{settings.cluster_name}:balances:{account_key}",
                clock=clock,
                ttl=settings.balance_cache_ttl,
                lock_s=settings.exchange_timeout_s + 5.0,
            )
        else:
            balances = BalanceCache(exchange.accounts, clock=clock, ttl=settings.balance_cache_ttl)
        products = {p.product_id: p for p in await load_products(exchange, settings.products, clock)}
        # Live: the account's fee tier, read now and daily; paper: the configured one (the simulator's).
        fees = FeeSchedule(
            exchange.fee_tier,
            initial=FeeTier(settings.paper_maker_fee_rate, settings.paper_taker_fee_rate),
            source=FeeSource.EXCHANGE if live else FeeSource.CONFIGURED,
            clock=clock,
        )
        await fees.refresh()

        # The trading parts, each built complete: the order path before the evaluator that hands
        # it signals, the bots (whose contexts fills move) before reconciliation.
        risk = RiskEngine(limits_from(settings), store, publish=bus.publish, clock=clock)
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
            instance_id=instance_id,
            cooldown_s=settings.order_cooldown_s,
            unknown_grace_s=settings.order_unknown_grace_s,
            fault_point=FaultPoint(settings.fault_point) if settings.fault_point else None,
        )
        open_orders, settler = order_path.open_orders, order_path.settler
        # A strategy that raises is taken out by the evaluator on the hot path; why is stored off it.
        bot_errors: asyncio.Queue[tuple[BotId, str]] = asyncio.Queue()
        evaluator = StreamingEvaluator(
            bus,
            order_path.on_signal,
            lambda bot, exc: bot_errors.put_nowait((bot.bot_id, bot.error_reason)),
            prices=prices,
            clock=clock,
        )
        bots = BotManager(
            store,
            evaluator,
            bus,
            settings.products,
            products,
            history=CandleHistory(exchange.candles, clock),
            balances=LiveBalances(lambda: balances.latest),
            fees=fees,
            clock=clock,
            runs_bots=role in (Role.ALL, Role.WORKER),
        )
        figures = AccountFigures(
            bots=bots, balances=balances, latest=prices.latest, products=settings.products
        )
        # A cluster worker's reconciliation leaves the orders other live workers follow to them.
        followed_elsewhere = FollowedElsewhere(clock, settings.order_unknown_grace_s + 30.0)
        reconciler = Reconciler(
            store=store,
            exchange=exchange,
            settler=settler,
            bots=bots,
            in_flight=order_path.in_flight,
            clock=clock,
            unknown_grace_s=settings.order_unknown_grace_s,
            followed_elsewhere=followed_elsewhere if role is Role.WORKER else None,
            # A worker settles orders of bots that moved to it: the worker that stored one may be
            # slow, not dead, and send it after a lookup found nothing (a sell made twice).
            unacknowledged_grace_s=settings.order_unknown_grace_s if role is Role.WORKER else 0.0,
        )
        trading = TradingDesk(
            store=store,
            risk=risk,
            open_orders=open_orders,
            settler=settler,
            order_path=order_path,
            reconciler=reconciler,
            sweep=ExchangeSweep(
                exchange=exchange,
                store=store,
                fills=store,
                settler=settler,
                bots=bots,
                bus=bus,
                in_flight=order_path.in_flight,
                clock=clock,
            ),
            holds=holds,
            balance_check=BalanceCheck(
                accounts=exchange.accounts,
                fills=store,
                holds=holds,
                bus=bus,
                products=products,
                busy=order_path.in_flight,
                clock=clock,
                interval=settings.balance_check_interval_s,
            ),
            equity=EquityWatcher(
                risk=risk,
                store=store,
                figures=figures,
                clock=clock,
                check_every=settings.equity_check_interval_s,
                snapshot_every=settings.equity_snapshot_interval_s,
            ),
            kill_switch=KillSwitch(risk=risk, open_orders=open_orders, store=store, exchange=exchange),
            figures=figures,
            clock=clock,
            reconcile_every=settings.reconcile_interval_s,
        )
        recorder = FeedRecorder(settings.record_dir, clock) if settings.record_dir is not None else None
        feed = FeedClient(
            ws_url,
            settings.products,
            bus,
            board=prices,
            clock=clock,
            # Live: order updates on the user channel; a lost one makes the engine reconcile.
            channels=("ticker", "heartbeats", "user") if live else ("ticker", "heartbeats"),
            jwt_factory=exchange.ws_jwt_factory,
            prices=exchange.best_bid_ask,
            poll_interval=settings.rest_poll_interval,
            # A cluster's feed process announces a loss; the worker holding the account reconciles.
            on_user_gap=(lambda reason: announce_user_gap(bus, reason))
            if role is Role.FEED
            else (lambda reason: reconciler.run_once()),
            recorder=recorder,
        )
        ownership: BotOwnership | None = None
        if role is Role.WORKER:
            ownership = BotOwnership(
                store=store,
                clock=clock,
                fencing=fencing,
                host=socket.gethostname(),
                pid=os.getpid(),
                running_bots=lambda: running_bot_ids(store),
                adopt=lambda bot_id: adopt_bot(bots, store, bot_id),
                drop=lambda bot_id: drop_bot(bots, bot_id),
                reading=WorkerRate(prices, evaluator, clock).reading,
                renew_every=settings.bot_lease_renew_s,
                stale_after=settings.bot_lease_stale_s,
                followed_elsewhere=followed_elsewhere,
            )
        roster = (
            ClusterRoster(
                store,
                lambda: running_bot_ids(store),
                clock,
                stale_after=settings.bot_lease_stale_s,
                every=settings.bot_lease_renew_s,
            )
            if role is Role.API
            else None
        )
        return cls(
            settings=settings,
            clock=clock,
            api_token=api_token,
            instance_id=instance_id,
            bus=bus,
            prices=prices,
            store=store,
            lease=lease,
            simulator=simulator,
            session=session,
            exchange=exchange,
            balances=balances,
            order_path=order_path,
            evaluator=evaluator,
            bots=bots,
            trading=trading,
            feed=feed,
            candles=candles,
            bot_errors=bot_errors,
            recorder=recorder,
            role=role,
            redis=redis,
            cluster_bus=cluster_bus,
            ownership=ownership,
            roster=roster,
        )

    # --- start-up --------------------------------------------------------------------------

    async def start(self) -> None:
        if self.role is not Role.ALL:
            await self._start_cluster_role()
            return
        settings = self.settings
        # Risk state back, downtime reconciled, before the bots replay their fills.
        await self.trading.recover()
        if settings.strategy_dir is not None:
            # Before the bots load, so a bot on a user strategy finds it (or its load error).
            load_user_strategies(settings.strategy_dir)
        await self.bots.load()
        if settings.mode is Mode.LIVE:
            await self._first_live_start()
        elif settings.demo_bots:
            await self._create_demo_bots()
        lease = self.lease
        assert lease is not None  # `streambot run` holds the database's lease
        self._spawn(lambda: lease.run(self.order_path.suspend), "lease")
        self._spawn(self._record_bot_errors, "bot-errors")
        self._spawn(self.evaluator.run, "evaluator")
        self._spawn(lambda: self.evaluator.run_polling(settings.legacy_poll_interval), "legacy-polling")
        if self.recorder is not None:
            self.recorder.start()
        self._spawn(self.feed.run, "feed")
        simulator = self.simulator
        if simulator is not None:
            # A simulator that dies is a failing task: logged, alerted on, in the health figures.
            self._spawn(simulator.wait, "paper-simulator")
            if settings.market_data is MarketData.COINBASE:
                self._spawn(lambda: self._follow_live_prices(simulator), "paper-market")
        self._spawn(self._log_summary, "summary")
        self._spawn(self.activity.run, "activity-log")
        if self.telegram is not None:
            self._spawn(self.telegram.run, "telegram")
        for factory, name in self.trading.background():
            self._spawn(factory, name)
        self._spawn(self.events.run, "live-push")
        self._spawn(self.candles.run, "chart-candles")
        self._spawn(self.alerts.run, "alerts")
        self._spawn(self.bots.fees.run, "fee-tier")
        await self.backtests.load()
        self._spawn(self.backtests.run, "backtests")
        await self.optimizations.load()
        log.info(
            "✅ streambot started: mode=%s market=%s products=%d bots=%d store=%s",
            settings.mode.value,
            settings.market_data.value,
            len(settings.products),
            len(await self.bots.list()),
            self.store.url,
        )
        freeze_start_up()

    # --- a role of the cluster ---------------------------------------------------------------

    async def _start_cluster_role(self) -> None:
        """``streambot feed | worker | api``: the same parts as ``run``, a share of the work each."""
        settings, role = self.settings, self.role
        cluster_bus = self.cluster_bus
        assert cluster_bus is not None
        # Subscribed before the bus first reads Redis, which hands on the feed's latest state and
        # then every event from that moment: subscribed after the loads below, a process that
        # started just after the feed went live never heard it (entries blocked for good, a false
        # feed_down alert), nor what other processes booked meanwhile.
        booked: asyncio.Queue[TradeBooked] = asyncio.Queue()
        risk_changed = asyncio.Event()
        if role is not Role.FEED:
            # The feed's state as the feed process reports it (health, alerts, entries' guard).
            cluster_bus.subscribe(FeedStateChanged, lambda event: self.feed.mirror(event.state))
            # Fills another process booked: positions read again from the store.
            cluster_bus.remote.subscribe(TradeBooked, booked.put_nowait)
            # The kill switch, HALTED, a hold set in another process: read from the store at once.
            for kind in _RISK_EVENTS:
                self.bus.subscribe(kind, lambda event: risk_changed.set())
        self._spawn(cluster_bus.run, "redis-streams")
        if role is Role.FEED:
            if self.recorder is not None:
                self.recorder.start()
            self._spawn(self.feed.run, "feed")
        else:
            await self.trading.risk.load()
            await self.trading.holds.load()
            await self.bots.load(activate=False)
            if role is Role.WORKER and settings.mode is Mode.LIVE:
                # As in `streambot run`: bots left running in paper mode do not trade real money
                # until started on purpose, before this worker leases any of them.
                await self._first_live_start()
            self._spawn(lambda: self._rebook(booked), "rebook")
            self._spawn(lambda: self._follow_risk(risk_changed), "risk-sync")
        if role is Role.WORKER:
            ownership = self.ownership
            assert ownership is not None
            bots_changed: asyncio.Queue[Event] = asyncio.Queue()
            for kind in _BOT_EVENTS:
                self.bus.subscribe(kind, bots_changed.put_nowait)
            self._spawn(self._record_bot_errors, "bot-errors")
            self._spawn(ownership.run, "bot-leases")
            self._spawn(lambda: self._follow_bots(bots_changed, ownership), "bot-changes")
            self._spawn(self.evaluator.run, "evaluator")
            self._spawn(lambda: self.evaluator.run_polling(settings.legacy_poll_interval), "legacy-polling")
            self._spawn(self._follow_redis_link, "redis-link")
            self._spawn(self._account_duties, "account-duties")
            lease = self.lease
            assert lease is not None
            user_gaps = UserGapFollower(
                self.bus, holds_account=lambda: lease.held, reconcile=self.trading.reconciler.run_once
            )
            self._spawn(user_gaps.run, "user-gaps")
            self._spawn(
                lambda: self.closes.serve(ownership.worker_id, self._runs_here, self._close_here), "closes"
            )
            self._spawn(self.bots.fees.run, "fee-tier")
        if role is Role.API:
            bot_events: asyncio.Queue[Event] = asyncio.Queue()
            for kind in _BOT_EVENTS:
                self.bus.subscribe(kind, bot_events.put_nowait)
            self._spawn(lambda: self._refresh_bots(bot_events), "bot-records")
            if self.roster is not None:
                self._spawn(self.roster.run, "cluster-roster")
            self._spawn(self.events.run, "live-push")
            self._spawn(self.candles.run, "chart-candles")
            self._spawn(self.alerts.run, "alerts")
            await self.backtests.load()
            self._spawn(self.backtests.run, "backtests")
            await self.optimizations.load()
            if self.telegram is not None:
                self._spawn(self.telegram.run, "telegram")
        self._spawn(self._log_summary, "summary")
        log.info(
            "✅ streambot %s started: mode=%s products=%d cluster=%s store=%s",
            role.value,
            settings.mode.value,
            len(settings.products),
            settings.cluster_name,
            self.store.url,
        )
        freeze_start_up()

    def _runs_here(self, bot_id: BotId) -> bool:
        ownership = self.ownership
        return (
            ownership is not None
            and ownership.fencing.get(bot_id) is not None
            and self.bots.runtime(bot_id) is not None
        )

    async def _close_here(self, bot_id: BotId) -> CloseOutcome:
        """A close the API process asked for, of a bot this worker runs: sold by its order path."""
        try:
            record = await self.bots.get(bot_id)
        except LookupError as exc:
            return CloseOutcome(refused="conflict", message=str(exc))
        return await close_here(self.bots, self.prices, self.order_path, record, wait=False)

    async def _follow_risk(self, changed: asyncio.Event) -> None:
        """Another process changed the account's risk state: read it again (and every few seconds
        anyway); a kill switch turned on cancels this process's open orders too."""
        risk = self.trading.risk
        while True:
            await wait_or_sleep(changed, self.clock, 5.0)
            changed.clear()
            before = {s.key: s.kill_switch for s in risk.scopes()}
            await risk.load()
            await self.trading.holds.load()
            if self.role is Role.WORKER:
                for state in risk.scopes():
                    if state.kill_switch and not before.get(state.key, False):
                        await self.trading.kill_switch.cancel_open(state.bot_id)

    async def _follow_bots(self, changes: asyncio.Queue[Event], ownership: BotOwnership) -> None:
        """A bot was created, edited, started or stopped (here or in the API process): an owned
        bot that was edited runs on its new record; the leases are evened out at once."""
        while True:
            event = await changes.get()
            bot_id = getattr(event, "bot_id", None)
            owned = bot_id is not None and ownership.fencing.get(bot_id) is not None
            if isinstance(event, BotStateChanged) and event.state is not BotState.RUNNING and owned:
                # Stopped elsewhere: no further decision here; the round gives the lease back.
                assert bot_id is not None
                self.bots.drop(bot_id)
            elif isinstance(event, BotUpdated) and bot_id is not None and owned:
                await self.bots.reload(bot_id)
            elif bot_id is not None and ownership.fencing.get(bot_id) is None:
                await self.bots.refresh(bot_id)
            ownership.wake()

    async def _rebook(self, booked: asyncio.Queue[TradeBooked]) -> None:
        """The API shows every bot's position; a worker keeps those of its own bots, and every
        bot's while it holds the account's duties (equity, daily loss and drawdown add them up)."""
        while True:
            event = await booked.get()
            bot_id = event.trade.bot_id
            ownership, lease = self.ownership, self.lease
            if self.bots.runtime(bot_id) is not None:
                continue  # it runs here: this process's settlement books its fills
            if (
                ownership is None
                or ownership.fencing.get(bot_id) is not None
                or (lease is not None and lease.held)
            ):
                try:
                    await self.bots.rebook(bot_id)
                except BaseException:
                    # Read again when the supervisor restarts this loop: the bot's last trade may
                    # come with no further event, and its position would stay as it was before.
                    booked.put_nowait(event)
                    raise

    async def _refresh_bots(self, changes: asyncio.Queue[Event]) -> None:
        """The API process: a worker changed a bot's record (an error, say): show it as stored."""
        while True:
            event = await changes.get()
            bot_id = getattr(event, "bot_id", None)
            if bot_id is not None:
                await self.bots.refresh(bot_id)

    async def _follow_redis_link(self) -> None:
        """A worker cut off from Redis hears no ticks and no kill switch: it places nothing."""
        cluster_bus = self.cluster_bus
        assert cluster_bus is not None
        while True:
            await self.clock.sleep(0.1)
            if not cluster_bus.connected and not self.order_path.suspended:
                self.order_path.suspend("Redis is not reachable")
                log.error("⛔ Redis is not reachable: this worker places no orders until it is")
            elif cluster_bus.connected and self.order_path.suspended == "Redis is not reachable":
                self.order_path.resume()
                log.info("▶️ Redis reachable again: this worker places orders again")

    async def _account_duties(self) -> None:
        """Reconciliation, the sweep, the balance check and the equity watch run once per account:
        on the worker holding the account lease; the others wait to take it over."""
        lease = self.lease
        assert lease is not None
        while True:
            try:
                await lease.take()
            except LeaseRefused:
                # As often as the holder renews it (the cluster's pace, not one process's): a
                # dead holder's duties move as fast as its bots do.
                await self.clock.sleep(lease.renew_every)
                continue
            log.info("🧾 This worker reconciles the account")
            for record in await self.bots.list():  # the figures add up every bot's position
                await self.bots.rebook(record.id)
            await self.trading.book_missing_trades()
            try:
                async with asyncio.TaskGroup() as group:
                    renewing = group.create_task(lease.run(lambda reason: None))
                    duties = [group.create_task(factory()) for factory, _ in self.trading.background()]
                    await renewing  # returns once the lease is lost
                    for task in duties:
                        task.cancel()
            finally:
                await lease.release()

    async def start_feed(self) -> None:
        """Resume the market-data stream after ``stop_feed``."""
        if self.feed.status().running:
            self.feed.start_stream()
        else:
            self._spawn(self.feed.run, "feed")

    async def stop_feed(self) -> None:
        """Close the market-data stream; prices keep coming from REST polling (state ``polling``)."""
        await self.feed.stop_stream()

    async def _first_live_start(self) -> None:
        """The first live start on this data directory trades nothing it was not told to here:
        bots left running in paper mode are stopped (each is started again on purpose)."""
        marker = self.settings.data_dir / "live_started"
        if marker.exists():
            return
        for record in await self.bots.list():
            if record.state is BotState.RUNNING:
                self.stopped_for_live.append(await self.bots.stop(record.id))
        if self.stopped_for_live:
            log.warning(
                "⚠️ First live start: %d bots running in paper mode are stopped; start each on purpose",
                len(self.stopped_for_live),
            )
        marker.write_text("streambot first ran in live mode on this data directory\n")

    async def live_plan(self) -> list[str]:
        """What will trade real money, for the user to read at a live start (the CLI prints it)."""
        settings = self.settings
        limits = limits_from(settings)
        running = [r for r in await self.bots.list() if r.state is BotState.RUNNING]
        lines = [
            f"LIVE TRADING with real money on {settings.coinbase_rest_url}",
            f"Products:     {', '.join(settings.products)}",
        ]
        if running:
            lines.append(f"Running bots: {len(running)}, each trading up to its budget:")
            lines += [
                f"  #{r.id} {r.name!r}: {r.strategy} on {r.product_id}, budget {r.budget:f} "
                f"{r.product_id.partition('-')[2]}"
                for r in running
            ]
        else:
            lines.append("Running bots: none; nothing trades until you start a bot")
        if self.stopped_for_live:
            names = ", ".join(f"#{r.id} {r.name!r}" for r in self.stopped_for_live)
            lines.append(f"Stopped:      {names} (were running in paper mode; start each on purpose)")
        lines.append(
            f"Risk limits:  order ≤ {limits.max_order_notional:f}, "
            f"position ≤ {limits.max_position_notional:f}, "
            f"daily loss {limits.daily_loss_pct:f} %, drawdown {limits.max_drawdown_pct:f} %, "
            f"{limits.max_trades_per_hour} trades/h per bot, bot budget ≤ {settings.max_bot_budget:f}"
        )
        return lines

    async def _create_demo_bots(self) -> None:
        """Paper mode's first run only: live mode never creates (or starts) demo bots."""
        marker = self.settings.data_dir / "demo_bots_created"
        if marker.exists() or self.settings.mode is Mode.LIVE:
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

    async def _record_bot_errors(self) -> None:
        while True:
            bot_id, reason = await self._bot_errors.get()
            await self.bots.record_error(bot_id, reason)

    async def _follow_live_prices(self, simulator: SimulatorProcess) -> None:
        """Paper trading on real prices: the simulator's market follows the live feed."""
        mailbox = self.bus.tick_mailbox("paper-market")
        try:
            while True:
                tick = await mailbox.get()
                simulator.apply_external_tick(tick.product_id, tick.price, tick.best_bid, tick.best_ask)
        finally:
            self.bus.remove_mailbox(mailbox)

    async def _log_summary(self, every: float = 10.0) -> None:
        """One readable line every few seconds instead of a line per tick."""
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
                self.order_path.orders_filled,
                self.order_path.orders_rejected,
                self.balances.hit_rate * 100,
            )

    def _spawn(self, factory: TaskFactory, name: str) -> None:
        """Run a background task under the supervisor: restarted from ``factory()`` if it dies."""
        self.supervisor.spawn(factory, name)

    # --- shutdown --------------------------------------------------------------------------

    async def stop(self) -> None:
        gc.unfreeze()  # see freeze_start_up
        await self.feed.stop()
        if self.recorder is not None:
            await asyncio.to_thread(self.recorder.close)
        await self.supervisor.stop()
        if self.ownership is not None:
            # Released, not left to go stale: the other workers take the bots over at once.
            await self.ownership.leave()
        await self.backtests.close()
        await self.optimizations.close()
        await self.order_path.close()
        while not self._bot_errors.empty():
            await self.bots.record_error(*self._bot_errors.get_nowait())
        await self.exchange.close()
        await self._session.close()
        if self.simulator is not None:
            await self.simulator.stop()
        if self.lease is not None:
            await self.lease.release()
        if self.cluster_bus is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.cluster_bus.flush(), 2.0)
        if self._redis is not None:
            await self._redis.aclose()
        await self.store.close()
        log.info("✅ streambot stopped")


async def running_bot_ids(store: Store) -> list[BotId]:
    return [record.id for record in await store.list_bots() if record.state is BotState.RUNNING]


async def adopt_bot(bots: BotManager, store: Store, bot_id: BotId) -> bool:
    """Run a bot this worker leased, once no order of it is unsettled (its previous owner's, or
    one reconciliation resolves after that owner died): its position is read from the fills then."""
    if any(order.bot_id == bot_id for order in await store.unresolved_orders()):
        return False
    await bots.adopt(bot_id)
    return True


async def drop_bot(bots: BotManager, bot_id: BotId) -> None:
    bots.drop(bot_id)


class WorkerRate:
    """A worker's ticks per second since the last heartbeat and its tick→decision p99."""

    def __init__(self, prices: PriceBoard, evaluator: StreamingEvaluator, clock: Clock) -> None:
        self._prices = prices
        self._evaluator = evaluator
        self._clock = clock
        self._ticks = prices.ticks_published
        self._at = clock.monotonic()

    def reading(self) -> WorkerReading:
        now, ticks = self._clock.monotonic(), self._prices.ticks_published
        rate = (ticks - self._ticks) / (now - self._at) if now > self._at else 0.0
        self._ticks, self._at = ticks, now
        return WorkerReading(rate, float(self._evaluator.tick_to_decision.summary()["p99_us"]))


async def check_live_key(rest_url: str, api_key: ApiKey, clock: Clock) -> None:
    """StartupError in one sentence when Coinbase refuses the key, it may not view and trade, or
    this machine's clock is off; within a few seconds, before anything else is opened."""
    async with aiohttp.ClientSession() as session, AsyncExitStack() as opened:
        try:
            signed, public = (
                open_exchange(
                    CoinbaseVenue(rest_url, api_key=key, timeout=CHECK_TIMEOUT_S),
                    clock=clock,
                    session=session,
                )
                for key in (api_key, None)
            )
        except ValueError as exc:  # the URL
            raise StartupError(f"STREAMBOT_COINBASE_REST_URL: {exc}") from None
        opened.push_async_callback(signed.close)
        opened.push_async_callback(public.close)
        try:
            await check_api_key(signed, public, clock)
        except KeyProblem as exc:
            raise StartupError(str(exc)) from None


async def load_products(exchange: Exchange, wanted: Sequence[ProductId], clock: Clock) -> list[Product]:
    """The products' trading rules; the exchange may still be starting (paper), so retry a while."""
    for attempt in range(10):
        try:
            products = await exchange.products(list(wanted))
            found = {p.product_id for p in products}
            missing = [p for p in wanted if p not in found]
            if missing:
                raise StartupError(f"the exchange does not list {', '.join(missing)} (STREAMBOT_PRODUCTS)")
            return [p for p in products if p.product_id in wanted]
        except ExchangeError as exc:
            log.warning("Products not available yet (%s); retrying", exc)
            await clock.sleep(min(5.0, 0.5 * 2**attempt))
    raise StartupError("could not read the products' trading rules from the exchange")


def alert_notifiers(settings: Settings) -> list[Notifier]:
    """The webhook and Telegram notifiers the settings configure (none by default)."""
    notifiers: list[Notifier] = []
    if settings.alert_webhook_url is not None:
        notifiers.append(
            WebhookNotifier(
                settings.alert_webhook_url.get_secret_value(), trades=settings.alert_trades_webhook
            )
        )
    if settings.telegram_bot_token is not None and settings.telegram_chat_id is not None:
        notifiers.append(
            TelegramNotifier(
                settings.telegram_bot_token.get_secret_value(),
                settings.telegram_chat_id.get_secret_value(),
                settings.telegram_api_url,
                trades=settings.alert_trades_telegram,
            )
        )
    return notifiers


def telegram_control_for(platform: Platform) -> TelegramControl | None:
    """Telegram commands from the alert chat and STREAMBOT_TELEGRAM_ALLOWED_CHATS, acting through
    the same bots manager and trading desk as the API's routes."""
    settings = platform.settings
    if settings.telegram_bot_token is None:
        return None
    commands = TelegramCommands(
        bots=platform.bots,
        desk=platform.trading,
        balances=platform.balances,
        prices=platform.prices,
        trades=platform.store,
        feed_state=lambda: platform.feed.state,
        confirmations=PendingConfirmations(platform.clock, settings.telegram_confirm_ttl_s),
    )
    return TelegramControl(
        BotApi(platform._session, settings.telegram_bot_token.get_secret_value(), settings.telegram_api_url),
        commands,
        allowed_chats=settings.telegram_command_chats,
        clock=platform.clock,
        poll_timeout_s=settings.telegram_poll_timeout_s,
    )


def bots_by_product(evaluator: StreamingEvaluator) -> dict[str, ProductBots]:
    """Running bots and their evaluations so far, per product (for the old bot's log lines)."""
    running: dict[str, int] = {}
    evaluations: dict[str, int] = {}
    for bot in evaluator.bots():
        product = bot.product_id
        running[product] = running.get(product, 0) + 1
        evaluations[product] = evaluations.get(product, 0) + bot.evaluations
    return {p: ProductBots(running[p], evaluations[p]) for p in running}


def alert_readings(platform: Platform) -> Readings:
    """The figures the alert rules judge, read from the platform's parts at one instant."""
    balances = platform.balances
    return Readings(
        feed_state=platform.feed.state,
        evaluation_errors=platform.evaluator.errors,
        # Joining a refresh already under way costs the exchange nothing: a hit for this rule.
        cache_hits=balances.hits + balances.joined,
        cache_misses=balances.misses,
        breaker_state=platform.exchange.breaker.state,
        failing_tasks=platform.supervisor.failing(),
    )


def alert_manager_for(platform: Platform) -> AlertManager:
    settings = platform.settings
    return AlertManager(
        platform.bus,
        lambda: alert_readings(platform),
        platform.clock,
        rules=Rules(
            feed_down_after_s=settings.alert_feed_down_s,
            feed_live_settle_s=settings.alert_feed_live_settle_s,
            breaker_clear_after_s=settings.alert_breaker_clear_s,
            min_cache_lookups=settings.alert_min_cache_lookups,
        ),
        notifiers=alert_notifiers(settings),
        interval=settings.alert_check_interval_s,
    )
