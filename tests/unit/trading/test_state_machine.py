"""A Hypothesis state machine over the trading engine's decisions.

The real sizing, risk engine and order book decide; the test plays the exchange (fills at the
current price with a fee, partial fills, cancels) and the clock, and restarts the engine from its
persisted risk state and the sum of fills. After every step: positions and open orders within the
limits, a breached daily loss means HALTED, and HALTED means no new entries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from streambot.bus import InProcessBus
from streambot.clock import ManualClock
from streambot.domain import BotId, ClientOrderId, OrderRecord, OrderStatus, Position, Side, Signal
from streambot.risk.base import HUNDRED, Intent, RiskContext, RiskLimits, RiskRejection
from streambot.risk.engine import RiskEngine
from streambot.trading.open_orders import OpenOrders
from streambot.trading.sizing import size_intent
from tests.unit.risk.support import BTC, MemoryRiskStore

T = TypeVar("T")
FEE = Decimal("0.006")
BOTS = (BotId(1), BotId(2))
BUDGET = Decimal(1000)
LIMITS = RiskLimits(
    max_order_notional=Decimal(400),
    max_position_notional=Decimal(800),
    daily_loss_pct=Decimal(5),
    max_drawdown_pct=Decimal(30),
    loss_cooldown_s=30.0,
    max_trades_per_hour=12,
    stale_price_s=30.0,
)
START = datetime(2026, 3, 1, 23, 0, tzinfo=UTC)  # the UTC day turns during a run


@dataclass
class FillRecord:
    bot_id: BotId
    side: Side
    base: Decimal
    quote: Decimal
    fee: Decimal


class TradingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.store = MemoryRiskStore()
        self.clock = ManualClock(START)
        self.price = Decimal(50_000)
        self.cash = Decimal(1000)
        self.fills: list[FillRecord] = []
        self.orders: dict[str, OrderRecord] = {}  # open at the "exchange"
        self.seq = 0
        self._boot()

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def _boot(self) -> None:
        """Start (or restart) the engine: risk state from its store, positions from the fills."""
        self.engine = RiskEngine(
            LIMITS, self.store, publish=InProcessBus(self.clock).publish, clock=self.clock
        )
        self._run(self.engine.load())
        self.book = OpenOrders()
        for order in self.orders.values():
            self.book.add(order, self.price)
            self.book.update_filled(order)
        self.positions = {bot: Position() for bot in BOTS}
        for fill in self.fills:
            self.positions[fill.bot_id].apply_fill(fill.side, fill.base, fill.quote, fill.fee)
        self._observe()

    def teardown(self) -> None:
        self.loop.close()

    # --- helpers -------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.clock.time()

    def equity(self) -> Decimal:
        return self.cash + sum((p.base for p in self.positions.values()), Decimal(0)) * self.price

    def _observe(self) -> None:
        if self._run(self.engine.observe_equity(self.equity())) is not None:
            event("a limit was breached")

    def _context(self, bot: BotId) -> RiskContext:
        return RiskContext(
            limits=LIMITS,
            now=self.now,
            product=BTC,
            budget=BUDGET,
            position=self.positions[bot],
            open_buy_notional=self.book.open_buy_notional(bot),
            open_sell_base=self.book.open_sell_base(bot),
            available_quote=self.cash - self.book.total_open_notional(),
            price_time=self.now,
            trades_last_hour=self.book.sent_last_hour(bot, self.now),
        )

    # --- rules ---------------------------------------------------------------------------------

    @rule(
        bot=st.sampled_from(BOTS),
        side=st.sampled_from([Side.BUY, Side.BUY, Side.SELL]),
        pct=st.decimals(min_value=1, max_value=50, places=2),
    )
    def submit(self, bot: BotId, side: Side, pct: Decimal) -> None:
        ctx = self._context(bot)
        assert ctx.available_quote is not None
        sized = size_intent(
            bot_id=bot,
            signal=Signal(side, "test", budget_pct=pct),
            product=BTC,
            price=self.price,
            budget=BUDGET,
            position=ctx.position,
            open_buy_notional=ctx.open_buy_notional,
            open_sell_base=ctx.open_sell_base,
            available_quote=ctx.available_quote,
        )
        if isinstance(sized, RiskRejection):
            event(f"not sized {sized.code}")
            return
        halted_before = self.engine.is_halted(bot)
        verdict = self.engine.check(sized, ctx)
        if verdict is not None:
            event(f"rejected {verdict.code}")
            return
        event(f"accepted {side.value}")
        assert not (halted_before and sized.is_entry), "HALTED let an entry through"
        self.seq += 1
        order = OrderRecord(
            client_order_id=ClientOrderId(f"o-{self.seq}"),
            bot_id=bot,
            product_id=BTC.product_id,
            side=side,
            status=OrderStatus.ACKNOWLEDGED,
            reason="test",
            created_at=self.clock.now(),
            quote_size=sized.quote_size,
            base_size=sized.base_size,
        )
        self.orders[order.client_order_id] = order
        self.book.add(order, self.price)
        self.book.record_sent(bot, self.now)
        self._check_accepted(sized)

    def _check_accepted(self, intent: Intent) -> None:
        assert intent.notional <= LIMITS.max_order_notional

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data(), fraction=st.sampled_from([Decimal("0.25"), Decimal("0.5"), Decimal(1)]))
    def fill(self, data: st.DataObject, fraction: Decimal) -> None:
        client_order_id = data.draw(st.sampled_from(sorted(self.orders)))
        order = self.orders[client_order_id]
        position = self.positions[order.bot_id]
        if order.side is Side.BUY:
            assert order.quote_size is not None
            left = order.quote_size - order.filled_value - order.fees
            spend = (left * fraction).quantize(Decimal("0.01"))
            if fraction == 1:
                spend = left
            value = spend / (1 + FEE)
            fee = spend - value
            base = value / self.price
            self.cash -= spend
        else:
            assert order.base_size is not None
            base = (order.base_size - order.filled_size) * fraction
            value = base * self.price
            fee = value * FEE
            self.cash += value - fee
        before = position.realized_pnl
        position.apply_fill(order.side, base, value, fee)
        self.fills.append(FillRecord(order.bot_id, order.side, base, value, fee))
        if position.realized_pnl < before:
            self._run(self.engine.record_loss(order.bot_id, self.clock.now()))
        order = replace(
            order,
            filled_size=order.filled_size + base,
            filled_value=order.filled_value + value,
            fees=order.fees + fee,
        )
        if fraction == 1:
            del self.orders[client_order_id]
            self.book.remove(client_order_id)
        else:
            self.orders[client_order_id] = order
            self.book.update_filled(order)
        self._observe()

    @precondition(lambda self: bool(self.orders))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        client_order_id = data.draw(st.sampled_from(sorted(self.orders)))
        del self.orders[client_order_id]
        self.book.remove(client_order_id)

    @rule(pct=st.integers(min_value=-30, max_value=20))
    def price_jump(self, pct: int) -> None:
        self.price = (self.price * (HUNDRED + pct) / HUNDRED).quantize(Decimal("0.01"))
        self._observe()

    @rule(seconds=st.sampled_from([1.0, 60.0, 1800.0]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance_by(seconds)
        self._observe()

    @rule()
    def restart(self) -> None:
        self._boot()

    @rule(on=st.booleans(), bot=st.sampled_from([None, *BOTS]))
    def kill_switch(self, on: bool, bot: BotId | None) -> None:
        self._run(self.engine.set_kill_switch(bot, on, "test"))

    @rule()
    def resume(self) -> None:
        self._run(self.engine.resume(None, "test"))

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def positions_and_open_orders_within_limits(self) -> None:
        cap = min(BUDGET, LIMITS.max_position_notional)
        for bot in BOTS:
            position = self.positions[bot]
            assert position.base >= 0
            committed = position.cost + self.book.open_buy_notional(bot)
            # What remains of an order is rounded by the exchange; a cent of slack covers it.
            assert committed <= cap + Decimal("0.01"), (bot, committed)
            assert self.book.open_sell_base(bot) <= position.base
        for entry in self.book.open_orders():
            assert entry.notional <= LIMITS.max_order_notional
        assert self.book.total_open_notional() <= self.cash + Decimal("0.01")

    @invariant()
    def breached_daily_loss_means_halted(self) -> None:
        account = self.engine.account
        start, equity = account.day_start_equity, self.engine.last_equity
        if (
            start is not None
            and equity is not None
            and (start - equity) * HUNDRED >= start * LIMITS.daily_loss_pct
        ):
            assert account.halted

    @invariant()
    def halted_means_no_new_entries(self) -> None:
        for bot in BOTS:
            if not self.engine.is_halted(bot):
                continue
            probe = Intent(bot, BTC.product_id, Side.BUY, self.price, quote_size=Decimal(10))
            verdict = self.engine.check(probe, self._context(bot))
            assert verdict is not None
            assert verdict.code in {"HALTED", "KILL_SWITCH"}


TradingMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestTrading = TradingMachine.TestCase
