"""The account's equity, watched: feeds the daily-loss and drawdown limits and stores snapshots.

Runs beside the trading, never on the tick path: balances come from the cache (one REST call a
minute at most, or after a fill), prices from the latest tickers.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal

from streambot.clock import Clock
from streambot.risk.engine import RiskEngine
from streambot.risk.state import EquitySnapshot
from streambot.trading.pnl import AccountFigures, pnl_totals
from streambot.trading.protocols import SnapshotStore

log = logging.getLogger(__name__)


class EquityWatcher:
    def __init__(
        self,
        *,
        risk: RiskEngine,
        store: SnapshotStore,
        figures: AccountFigures,
        clock: Clock,
        check_every: float = 2.0,
        snapshot_every: float = 60.0,
    ) -> None:
        self._risk = risk
        self._store = store
        self._figures = figures
        self.check_every = check_every
        self.snapshot_every = snapshot_every
        self._clock = clock
        self._last_snapshot = 0.0  # UNIX seconds: the first step takes one

    async def step(self) -> Decimal | None:
        equity = await self._figures.account_equity()
        if equity is None:
            return None
        await self._risk.observe_equity(equity)
        now = self._clock.time()
        if now - self._last_snapshot >= self.snapshot_every:
            self._last_snapshot = now
            await self.snapshot(equity, now)
        return equity

    async def snapshot(self, equity: Decimal, now: float) -> None:
        at = datetime.fromtimestamp(now, UTC)
        bots = await self._figures.bots_pnl()
        realized, unrealized = pnl_totals(bots)
        rows = [EquitySnapshot(at, None, equity, realized, unrealized)]
        rows += [EquitySnapshot(at, b.bot_id, b.equity, b.realized, b.unrealized) for b in bots]
        await self._store.insert_equity_snapshots(rows)

    async def run(self) -> None:
        while True:
            try:
                await self.step()
            except Exception:
                log.exception("❌ Equity check failed; trying again in %.0fs", self.check_every)
            await self._clock.sleep(self.check_every)
