"""What the API serves: the running platform's parts, named by what the API reads of them.

The composition root (``streambot.app.Platform``) satisfies this protocol; the API names the
protocol rather than the root, so nothing in the API imports the module that builds it.
"""

from __future__ import annotations

from typing import Any, Protocol

from streambot.alerts.manager import AlertManager
from streambot.api.live.hub import EventHub
from streambot.api.market_candles import MarketCandles
from streambot.api.optimizations import OptimizationRuns
from streambot.backtest.runs.queue import BacktestQueue
from streambot.bots import BotManager
from streambot.bus import Bus, PriceBoard
from streambot.clock import Clock
from streambot.cluster.remote_close import CloseCommands
from streambot.cluster.roster import ClusterRoster
from streambot.config import Role, Settings
from streambot.evaluator import StreamingEvaluator
from streambot.feed.client import FeedClient
from streambot.observability.requests import RequestStats
from streambot.observability.supervisor import Supervisor
from streambot.simulator.process import SimulatorProcess
from streambot.store.database import Store
from streambot.telegram.control import TelegramControl
from streambot.trading.balances import AccountBalances
from streambot.trading.desk import TradingDesk
from streambot.trading.order_path import OrderPath
from streambot.venues.coinbase.client import CoinbaseRest


class PlatformReport(Protocol):
    """The figures the dashboard reads (``api.summary.Summary`` is it)."""

    def metrics(self, max_age: float = 0.5) -> dict[str, Any]: ...

    async def health(self) -> dict[str, Any]: ...

    async def status_frame(self) -> dict[str, Any]: ...


class ServedPlatform(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def role(self) -> Role:
        """``all`` for ``streambot run``; a cluster's API process serves as ``api``."""
        ...

    @property
    def clock(self) -> Clock: ...
    @property
    def started_at(self) -> float:
        """UNIX seconds the platform was built."""
        ...

    @property
    def api_token(self) -> str: ...
    @property
    def prices(self) -> PriceBoard: ...
    @property
    def bus(self) -> Bus: ...
    @property
    def store(self) -> Store: ...
    @property
    def simulator(self) -> SimulatorProcess | None:
        """The paper venue; None when trading live."""
        ...

    @property
    def exchange(self) -> CoinbaseRest: ...
    @property
    def balances(self) -> AccountBalances: ...
    @property
    def order_path(self) -> OrderPath: ...
    @property
    def evaluator(self) -> StreamingEvaluator: ...
    @property
    def bots(self) -> BotManager: ...
    @property
    def trading(self) -> TradingDesk: ...
    @property
    def feed(self) -> FeedClient: ...
    @property
    def events(self) -> EventHub: ...
    @property
    def candles(self) -> MarketCandles: ...
    @property
    def alerts(self) -> AlertManager: ...
    @property
    def telegram(self) -> TelegramControl | None:
        """Telegram commands; None when no bot token is configured."""
        ...

    @property
    def supervisor(self) -> Supervisor: ...
    @property
    def requests(self) -> RequestStats:
        """The API's request counters."""
        ...

    @property
    def summary(self) -> PlatformReport: ...
    @property
    def roster(self) -> ClusterRoster | None:
        """A cluster's API process: its workers as last read (health, metrics); None otherwise."""
        ...

    @property
    def closes(self) -> CloseCommands:
        """A cluster's API process asks the worker owning a running bot to close it."""
        ...

    @property
    def backtests(self) -> BacktestQueue:
        """Backtests run for the API, each in a process of its own."""
        ...

    @property
    def optimizations(self) -> OptimizationRuns:
        """Parameter searches run for the API, each in a process of its own."""
        ...

    async def start_feed(self) -> None:
        """Resume the market-data stream after ``stop_feed``."""
        ...

    async def stop_feed(self) -> None:
        """Close the market-data stream; prices keep coming from REST polling."""
        ...
