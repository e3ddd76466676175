"""The trading engine as the platform wires it: risk, open orders, reconciliation, equity, P&L.

Start-up order matters and lives here: risk state is loaded (HALTED and kill switches survive a
restart), unresolved orders are put back in the book as exposure, reconciliation books what
happened while the process was down, and only then do the bots load and replay their fills.
"""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from streambot.bus import Bus, PriceBoard
from streambot.domain import BotId, BotRecord, Position
from streambot.exchange import Exchange
from streambot.risk.base import RiskLimits
from streambot.risk.engine import RiskEngine
from streambot.trading.balances import BalanceCache
from streambot.trading.book import OrderBook
from streambot.trading.equity import EquityWatcher
from streambot.trading.pnl import BotPnl, account_equity, bot_pnl, latest_prices
from streambot.trading.reconcile import Reconciler

if TYPE_CHECKING:
    from streambot.config import Settings
    from streambot.evaluator import BotRuntime
    from streambot.executor import Executor
    from streambot.store.database import Store
    from streambot.strategies.base import BotContext


class BotDirectory(Protocol):
    async def list(self) -> list[BotRecord]: ...
    def position(self, bot_id: BotId) -> Position: ...
    def context(self, bot_id: BotId) -> BotContext | None: ...
    def runtime(self, bot_id: BotId) -> BotRuntime | None: ...


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


class TradingEngine:
    def __init__(self, settings: Settings, bus: Bus, store: Store, prices: PriceBoard) -> None:
        self.settings = settings
        self._bus = bus
        self._prices = prices
        self._store = store
        self.risk = RiskEngine(limits_from(settings), store, bus)
        self.book = OrderBook()
        self.reconciler: Reconciler | None = None
        self.equity: EquityWatcher | None = None
        self._bots: BotDirectory | None = None
        self._balances: BalanceCache | None = None
        self._executor: Executor | None = None

    async def prepare(self, executor: Executor, exchange: Exchange) -> None:
        """Before the bots load: risk state back, exposure back, the downtime reconciled."""
        self._executor = executor
        await self.risk.load()
        for order in await self._store.unresolved_orders():
            self.book.add(order)
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        for bot_id, at in sorted(await self._store.submitted_since(hour_ago), key=lambda row: row[1]):
            self.book.record_sent(BotId(bot_id), at.timestamp())
        self.reconciler = Reconciler(
            store=self._store,
            exchange=exchange,
            settler=executor.settler,
            in_flight=lambda: executor.in_flight,
        )
        await self.reconciler.run_once()

    def attach(self, bots: BotDirectory, balances: BalanceCache) -> None:
        """Once the bots are loaded: fills booked from now on move their positions."""
        self._bots = bots
        self._balances = balances
        assert self._executor is not None
        self._executor.settler.context_of = bots.context
        self._executor.settler.name_of = lambda bot_id: (
            found.name if (found := bots.runtime(bot_id)) is not None else f"bot {bot_id}"
        )
        self.equity = EquityWatcher(
            risk=self.risk,
            store=self._store,
            equity=self.account_equity,
            bots_pnl=self.bots_pnl,
            check_every=self.settings.equity_check_interval_s,
            snapshot_every=self.settings.equity_snapshot_interval_s,
        )

    def background(self) -> list[tuple[Coroutine[Any, Any, None], str]]:
        assert self.reconciler is not None
        assert self.equity is not None
        return [
            (self.reconciler.run_every(self.settings.reconcile_interval_s), "reconciliation"),
            (self.equity.run(), "equity"),
        ]

    # --- figures -----------------------------------------------------------------------------

    async def account_equity(self) -> Decimal | None:
        """The account's worth at the latest prices; None until every traded holding has a price."""
        if self._balances is None:
            return None
        balances = await self._balances.balances()
        prices = latest_prices(self._prices.latest)
        for balance in balances.values():
            product = f"{balance.currency}-USD"
            if (
                balance.available + balance.hold
                and product in self.settings.products
                and product not in prices
            ):
                return None
        return account_equity(balances.values(), prices)

    async def bots_pnl(self) -> list[BotPnl]:
        if self._bots is None:
            return []
        prices = latest_prices(self._prices.latest)
        return [
            bot_pnl(
                record.id,
                record.name,
                record.product_id,
                record.budget,
                self._bots.position(record.id),
                prices.get(record.product_id),
            )
            for record in await self._bots.list()
        ]
