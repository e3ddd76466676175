"""The kill switch, thrown: no order leaves (the account or one bot) and open orders are cancelled.

The risk engine keeps the switch's state (persisted, published) and its rule refuses every order
while it is on; this adds what turning it on does to the orders already out: the exchange is
asked to cancel them, and reconciliation books the cancels as it books any outcome.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from streambot.domain import BotId
from streambot.exchange import Exchange, ExchangeError
from streambot.risk.engine import RiskEngine
from streambot.risk.state import ScopeState
from streambot.trading.open_orders import OpenOrders
from streambot.trading.protocols import OrderStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KillSwitchChange:
    changed: bool  # False: the switch already was in that position
    state: ScopeState  # the scope's risk state now
    cancelled_orders: int


class KillSwitch:
    def __init__(
        self, *, risk: RiskEngine, open_orders: OpenOrders, store: OrderStore, exchange: Exchange
    ) -> None:
        self._risk = risk
        self._open_orders = open_orders
        self._store = store
        self._exchange = exchange

    async def set(self, bot_id: BotId | None, on: bool, reason: str) -> KillSwitchChange:
        """Turn the account's (``bot_id`` None) or a bot's switch on or off."""
        changed = await self._risk.set_kill_switch(bot_id, on, reason)
        cancelled = await self.cancel_open(bot_id) if on else 0
        state = self._risk.account if bot_id is None else self._risk.bot(bot_id)
        return KillSwitchChange(changed, state, cancelled)

    async def cancel_open(self, bot_id: BotId | None = None) -> int:
        """Ask the exchange to cancel our open orders (of one bot, or all); reconciliation books it."""
        open_ids = [o.client_order_id for o in self._open_orders.open_orders(bot_id)]
        if not open_ids:
            return 0
        stored = await self._store.get_orders(open_ids)
        exchange_ids = [o.exchange_order_id for o in stored.values() if o.exchange_order_id]
        if not exchange_ids:
            return 0
        try:
            outcome = await self._exchange.cancel_orders(exchange_ids)
        except ExchangeError as exc:
            log.error("❌ Cancelling %d open orders failed: %s", len(exchange_ids), exc)
            return 0
        return sum(outcome.values())
