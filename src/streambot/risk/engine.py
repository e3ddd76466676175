"""The risk engine: runs the rules in order, and owns the kill switches and HALTED.

State changes apply in memory at once (the next check sees them) and are then written to the store,
so HALTED and the kill switches survive a restart; only ``resume`` (the API) lifts a halt.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from types import ModuleType
from typing import Protocol

from streambot.clock import Clock
from streambot.domain import BotId, BotState, evolve
from streambot.events import BotStateChanged, Event, KillSwitchChanged, RiskHalted, RiskResumed
from streambot.risk import (
    bot_budget,
    daily_loss,
    drawdown,
    exchange_rules,
    halted,
    kill_switch,
    loss_cooldown,
    max_order_notional,
    max_position,
    stale_price,
    trade_rate,
)
from streambot.risk.base import Intent, RiskContext, RiskLimits, RiskRejection
from streambot.risk.state import ACCOUNT, ScopeState, scope_key

log = logging.getLogger(__name__)

Check = Callable[[Intent, RiskContext], RiskRejection | None]

# Cheapest and most decisive first: a kill switch or a halt says all there is to say.
RULES: tuple[ModuleType, ...] = (
    kill_switch,
    halted,
    exchange_rules,
    stale_price,
    daily_loss,
    drawdown,
    loss_cooldown,
    trade_rate,
    max_order_notional,
    bot_budget,
    max_position,
)


class RiskStateStore(Protocol):
    async def load_risk_states(self) -> list[ScopeState]: ...
    async def save_risk_state(self, state: ScopeState) -> None: ...


# Where the engine announces halts, resumes and kill switches: the bus's ``publish``.
Publish = Callable[[Event], object]


def utc_day(now: datetime) -> str:
    return now.astimezone(UTC).date().isoformat()


class RiskEngine:
    def __init__(
        self,
        limits: RiskLimits,
        store: RiskStateStore,
        *,
        publish: Publish,
        clock: Clock,
        rules: Sequence[ModuleType] = RULES,
    ) -> None:
        self.limits = limits
        self._store = store
        # One save at a time per scope, each copying the state when its turn comes: otherwise an
        # equity mark's save that began before a kill switch flipped could land after the kill
        # switch's own save and write the old value back (last writer wins with a stale copy).
        self._saving: dict[str, asyncio.Lock] = {}
        self._publish = publish
        self._clock = clock
        self._rules: tuple[Check, ...] = tuple(rule.check for rule in rules)
        self._states: dict[str, ScopeState] = {ACCOUNT: ScopeState()}
        self.last_equity: Decimal | None = None
        self.rejections: dict[str, int] = {}

    # --- state -------------------------------------------------------------------------------

    async def load(self) -> None:
        for state in await self._store.load_risk_states():
            self._states[state.key] = state
        account = self.account
        if account.halted:
            log.warning("⛔ The account is HALTED (%s); resume it through the API", account.halt_reason)
        if account.kill_switch:
            log.warning("⛔ The global kill switch is on (%s)", account.kill_reason)
        for state in self._states.values():
            if state.bot_id is not None and state.halted:
                log.warning("⛔ Bot %s is HALTED (%s)", state.bot_id, state.halt_reason)

    @property
    def account(self) -> ScopeState:
        return self._states[ACCOUNT]

    def bot(self, bot_id: BotId) -> ScopeState:
        """The bot's state; a fresh (not halted, switch off) one when nothing was ever recorded."""
        state = self._states.get(scope_key(bot_id))
        if state is None:
            state = self._states[scope_key(bot_id)] = ScopeState(bot_id=bot_id)
        return state

    def scopes(self) -> list[ScopeState]:
        return [replace(state) for state in self._states.values()]

    def is_halted(self, bot_id: BotId) -> bool:
        return self.account.halted or self.bot(bot_id).halted

    # --- checks ------------------------------------------------------------------------------

    def check(self, intent: Intent, ctx: RiskContext) -> RiskRejection | None:
        """The first rule that refuses the intent, or None when every rule lets it through."""
        self._bind(intent, ctx)
        for rule in self._rules:
            rejection = rule(intent, ctx)
            if rejection is not None:
                return self._count(rejection)
        return None

    def check_unsized(self, intent: Intent, ctx: RiskContext, sizing: RiskRejection) -> RiskRejection:
        """Why no order could be sized, unless a kill switch or HALTED, which say more, refuse it.

        The other rules are not run: on an order without a size they would only find that out.
        """
        self._bind(intent, ctx)
        return self._count(kill_switch.check(intent, ctx) or halted.check(intent, ctx) or sizing)

    def _bind(self, intent: Intent, ctx: RiskContext) -> None:
        ctx.account = self.account
        ctx.bot = self.bot(intent.bot_id)
        if ctx.equity is None:
            ctx.equity = self.last_equity

    def _count(self, rejection: RiskRejection) -> RiskRejection:
        self.rejections[rejection.code] = self.rejections.get(rejection.code, 0) + 1
        return rejection

    # --- equity ------------------------------------------------------------------------------

    async def observe_equity(self, equity: Decimal) -> RiskRejection | None:
        """Track the day's opening equity and the peak; halt the account when a limit is breached."""
        self.last_equity = equity
        account = self.account
        changed = False
        today = utc_day(self._clock.now())
        if account.day != today or account.day_start_equity is None:
            account.day, account.day_start_equity = today, equity
            changed = True
        if account.equity_peak is None or equity > account.equity_peak:
            account.equity_peak = equity
            changed = True
        breach = daily_loss.breached(
            account.day_start_equity, equity, self.limits.daily_loss_pct
        ) or drawdown.breached(account.equity_peak, equity, self.limits.max_drawdown_pct)
        if breach is not None and not account.halted:
            await self.halt(None, breach.code, breach.message)
            return breach
        if changed:
            await self._save(account)
        return breach

    async def record_loss(self, bot_id: BotId, at: datetime) -> None:
        state = self.bot(bot_id)
        state.last_loss_at = at
        await self._save(state)

    # --- halts and switches ------------------------------------------------------------------

    async def halt(self, bot_id: BotId | None, code: str, reason: str) -> None:
        state = self.account if bot_id is None else self.bot(bot_id)
        if state.halted:
            return
        state.halted, state.halt_code, state.halt_reason = True, code, reason
        state.halted_at = self._clock.now()
        await self._save(state)
        log.error("⛔ %s HALTED: %s", _who(bot_id), reason)
        self._publish(RiskHalted(scope=state.scope, bot_id=bot_id, code=code, reason=reason))
        if bot_id is not None:
            self._publish(BotStateChanged(bot_id=bot_id, state=BotState.HALTED, reason=reason))

    async def resume(self, bot_id: BotId | None, by: str) -> bool:
        """Lift a halt; False when the scope was not halted. The equity marks restart from now,
        so the loss the person just accepted does not halt the account again at once."""
        state = self.account if bot_id is None else self.bot(bot_id)
        if not state.halted:
            return False
        state.halted, state.halt_code, state.halt_reason, state.halted_at = False, "", "", None
        if bot_id is None and self.last_equity is not None:
            state.day_start_equity = state.equity_peak = self.last_equity
        await self._save(state)
        log.warning("▶️ %s resumed by %s", _who(bot_id), by)
        self._publish(RiskResumed(scope=state.scope, bot_id=bot_id, by=by))
        if bot_id is not None:
            self._publish(BotStateChanged(bot_id=bot_id, state=BotState.RUNNING, reason=f"resumed by {by}"))
        return True

    async def set_kill_switch(self, bot_id: BotId | None, on: bool, reason: str) -> bool:
        """Turn a kill switch on or off; False when it already was."""
        state = self.account if bot_id is None else self.bot(bot_id)
        if state.kill_switch == on:
            return False
        state.kill_switch, state.kill_reason = on, reason if on else ""
        state.kill_at = self._clock.now() if on else None
        await self._save(state)
        log.warning(
            "%s %s kill switch %s%s",
            "⛔" if on else "▶️",
            _who(bot_id),
            "ON" if on else "off",
            f": {reason}" if reason else "",
        )
        self._publish(KillSwitchChanged(scope=state.scope, bot_id=bot_id, on=on, reason=reason))
        return True

    # --- internals ---------------------------------------------------------------------------

    async def _save(self, state: ScopeState) -> None:
        lock = self._saving.get(state.key)
        if lock is None:
            lock = self._saving[state.key] = asyncio.Lock()
        async with lock:
            await self._store.save_risk_state(evolve(state))  # a copy: later changes are not this save's


def _who(bot_id: BotId | None) -> str:
    return "The account" if bot_id is None else f"Bot {bot_id}"
