"""The trading parts one account runs, built complete by the composition root, and their start-up.

Start-up order matters and lives here: risk state and product holds are loaded (HALTED, kill
switches and position-mismatch holds survive a restart), unresolved orders are put back among the
open orders as exposure, reconciliation books what happened while the process was down, and only
then do the bots load and replay their fills (the composition root loads them after ``recover``).
In the background: reconciliation, the sweep of the exchange's orders and fills, the balance
check, the equity watch.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import timedelta
from decimal import Decimal
from typing import Any

from streambot.clock import Clock
from streambot.domain import BotId
from streambot.risk.engine import RiskEngine
from streambot.trading.balance_check import BalanceCheck
from streambot.trading.equity import EquityWatcher
from streambot.trading.holds import ProductHolds
from streambot.trading.kill_switch import KillSwitch
from streambot.trading.open_orders import OpenOrders
from streambot.trading.order_path import OrderPath
from streambot.trading.pnl import AccountFigures, BotPnl
from streambot.trading.protocols import OrderStore
from streambot.trading.reconcile import Reconciler
from streambot.trading.settlement import Settler
from streambot.trading.sweep import ExchangeSweep


class TradingDesk:
    def __init__(
        self,
        *,
        store: OrderStore,
        risk: RiskEngine,
        open_orders: OpenOrders,
        settler: Settler,
        order_path: OrderPath,
        reconciler: Reconciler,
        sweep: ExchangeSweep,
        holds: ProductHolds,
        balance_check: BalanceCheck,
        equity: EquityWatcher,
        kill_switch: KillSwitch,
        figures: AccountFigures,
        clock: Clock,
        reconcile_every: float,
    ) -> None:
        self._store = store
        self.risk = risk
        self.open_orders = open_orders
        self.settler = settler
        self.order_path = order_path
        self.reconciler = reconciler
        self.sweep = sweep
        self.holds = holds
        self.balance_check = balance_check
        self.equity = equity
        self.kill_switch = kill_switch
        self.figures = figures
        self._clock = clock
        self._reconcile_every = reconcile_every

    async def recover(self) -> None:
        """Before the bots load: risk state back, exposure back, the downtime reconciled."""
        await self.risk.load()
        await self.holds.load()
        for order in await self._store.unresolved_orders():
            self.open_orders.add(order)
        hour_ago = self._clock.now() - timedelta(hours=1)
        for bot_id, at in sorted(await self._store.submitted_since(hour_ago), key=lambda row: row[1]):
            self.open_orders.record_sent(BotId(bot_id), at.timestamp())
        await self.reconciler.run_once()
        await self.book_missing_trades()

    async def book_missing_trades(self) -> None:
        """Book the trades a stopped process did not get to store for its final orders (see
        ``OrderStore.final_orders_without_their_trade``): at start-up, or in a cluster when a
        worker takes over the account's duties."""
        for order in await self._store.final_orders_without_their_trade():
            await self.settler.book_stored_trade(order)

    def background(self) -> list[tuple[Callable[[], Coroutine[Any, Any, None]], str]]:
        """The desk's background work, as makers of a fresh coroutine (a supervisor restarts one
        that died by calling its maker again) with their names."""
        return [
            (lambda: self.reconciler.run_every(self._reconcile_every), "reconciliation"),
            (lambda: self.sweep.run_every(self._reconcile_every), "sweep"),
            (self.balance_check.run, "balance-check"),
            (self.equity.run, "equity"),
        ]

    # --- figures -----------------------------------------------------------------------------

    async def account_equity(self) -> Decimal | None:
        return await self.figures.account_equity()

    async def bots_pnl(self) -> list[BotPnl]:
        return await self.figures.bots_pnl()
