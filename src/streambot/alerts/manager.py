"""AlertManager: judges the rules every few seconds, follows risk halts, raises and clears alerts.

An alert is raised once when its condition starts and cleared once when it ends: logged (❌ / ✅),
published on the bus as ``alerts.raised`` / ``alerts.cleared`` (the status WebSocket pushes
those) and sent to every configured notifier in the background, never blocking the caller.

The feed's state changes arrive as events too, so the feed-down rule sees every flap, not only
the state at each check. Trades (fills) go, as notices rather than alerts, to the notifiers whose
``trades`` flag is set (``STREAMBOT_ALERT_TRADES_WEBHOOK`` / ``STREAMBOT_ALERT_TRADES_TELEGRAM``);
halts are alerts and reach every notifier.

The manager knows nothing of the platform: the composition root hands it a ``read`` callable
that gathers the figures the rules judge, and the notifiers built from the settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from streambot.alerts.notify import Notifier
from streambot.alerts.rules import CRITICAL, Condition, Readings, Rules
from streambot.bus import Bus
from streambot.clock import Clock
from streambot.events import (
    AlertCleared,
    AlertRaised,
    ExchangeActivityFlagged,
    FeedStateChanged,
    PositionMismatchAcknowledged,
    PositionMismatchFound,
    RiskHalted,
    RiskResumed,
    TradeBooked,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    code: str
    severity: str
    message: str
    since: float  # UNIX seconds, on the manager's clock

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "since": self.since}


class AlertManager:
    def __init__(
        self,
        bus: Bus,
        read: Callable[[], Readings],
        clock: Clock,
        *,
        rules: Rules | None = None,
        notifiers: Sequence[Notifier] = (),
        interval: float = 5.0,
    ) -> None:
        self._bus = bus
        self._read = read
        self._clock = clock
        self.rules = rules or Rules()
        self.notifiers = list(notifiers)
        self.interval = interval
        self.active: dict[str, ActiveAlert] = {}
        self._halts: set[str] = set()  # codes of active halt alerts: only risk.resumed clears them
        self._session: aiohttp.ClientSession | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.raised_total = 0
        self.trades_notified = 0
        self._unsubscribe = [
            bus.subscribe(RiskHalted, self._on_halted),
            bus.subscribe(RiskResumed, self._on_resumed),
            bus.subscribe(FeedStateChanged, self._on_feed_state),
            bus.subscribe(TradeBooked, self._on_trade),
            bus.subscribe(PositionMismatchFound, self._on_mismatch),
            bus.subscribe(PositionMismatchAcknowledged, self._on_mismatch_acknowledged),
            bus.subscribe(ExchangeActivityFlagged, self._on_exchange_activity),
        ]

    # --- the feed's flaps and the trades arrive as events ----------------------------------------

    def _on_feed_state(self, event: FeedStateChanged) -> None:
        self.rules.feed.observe(str(event.state), self._clock.monotonic())

    def _on_trade(self, event: TradeBooked) -> None:
        trade = event.trade
        if trade.base_size <= 0:
            return
        message = (
            f"{trade.side.value.upper()} {trade.base_size} {trade.product_id} @ {trade.price} "
            f"(fee {trade.fee}, bot {trade.bot_id}, {trade.status.value})"
        )
        notice = {
            "event": "trade",
            "code": f"trade.bot.{trade.bot_id}",
            "severity": "info",
            "message": message,
            "since": self._clock.time(),
        }
        if self._notify(notice, trades_only=True):
            self.trades_notified += 1

    # --- risk halts arrive as events ---------------------------------------------------------

    @staticmethod
    def _halt_code(bot_id: int | None) -> str:
        return "halted" if bot_id is None else f"halted.bot.{bot_id}"

    def _on_halted(self, event: RiskHalted) -> None:
        code = self._halt_code(event.bot_id)
        who = "trading" if event.bot_id is None else f"bot {event.bot_id}"
        self._halts.add(code)
        self._raise(
            Condition(code, CRITICAL, f"HALTED: {who} stopped by risk rule {event.code}: {event.reason}")
        )

    def _on_resumed(self, event: RiskResumed) -> None:
        code = self._halt_code(event.bot_id)
        if code in self._halts:
            self._halts.remove(code)
            self._clear(code)

    # --- what trading finds on the exchange: stays until a person acknowledges it ---------------

    def _on_mismatch(self, event: PositionMismatchFound) -> None:
        for product_id in event.product_ids:
            code = f"position_mismatch.{product_id}"
            self._halts.add(code)
            self._raise(
                Condition(
                    code,
                    CRITICAL,
                    f"Position mismatch on {event.asset}: the account holds {event.actual}, the bots' "
                    f"fills account for {event.expected}; entries on {product_id} halted until acknowledged",
                )
            )

    def _on_mismatch_acknowledged(self, event: PositionMismatchAcknowledged) -> None:
        code = f"position_mismatch.{event.product_id}"
        self._halts.discard(code)
        self._clear(code)

    def _on_exchange_activity(self, event: ExchangeActivityFlagged) -> None:
        code = f"exchange_activity.{event.exchange_order_id}"
        self._halts.add(code)  # a one-off finding: shown until the process restarts
        self._raise(
            Condition(code, CRITICAL, f"Unknown exchange activity on {event.product_id}: {event.detail}")
        )

    # --- periodic rules ---------------------------------------------------------------------

    def check(self) -> None:
        """Judge the rules once; raise what started, clear what ended (halts are event-driven)."""
        current = {c.code: c for c in self.rules.judge(self._read(), self._clock.monotonic())}
        for code, condition in current.items():
            if code not in self.active:
                self._raise(condition)
        for code in [c for c in self.active if c not in current and c not in self._halts]:
            self._clear(code)

    async def run(self) -> None:
        try:
            while True:
                await self._clock.sleep(self.interval)
                try:
                    self.check()
                except Exception:
                    log.exception("❌ alert check failed")
        except asyncio.CancelledError:
            await self.close()
            raise
        finally:
            # Died otherwise: the supervisor runs ``run`` again, so the subscriptions stay.
            await self._close_sending()

    async def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
        await self._close_sending()

    async def _close_sending(self) -> None:
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=5)
            for task in self._sending:
                task.cancel()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- raising and clearing ---------------------------------------------------------------

    def _raise(self, condition: Condition) -> None:
        alert = ActiveAlert(condition.code, condition.severity, condition.message, self._clock.time())
        self.active[condition.code] = alert
        self.raised_total += 1
        log.error("❌ ALERT [%s] %s: %s", alert.severity, alert.code, alert.message)
        self._bus.publish(AlertRaised(**alert.as_dict()))
        self._notify({"event": "raised", **alert.as_dict()})

    def _clear(self, code: str) -> None:
        alert = self.active.pop(code, None)
        if alert is None:
            return
        log.info("✅ Alert cleared: %s", code)
        self._bus.publish(AlertCleared(**alert.as_dict()))
        self._notify({"event": "cleared", **alert.as_dict()})

    def _notify(self, alert: dict[str, Any], *, trades_only: bool = False) -> bool:
        """Send in the background; ``trades_only``: only to notifiers that take trades."""
        notifiers = [n for n in self.notifiers if n.trades] if trades_only else self.notifiers
        if not notifiers:
            return False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        for notifier in notifiers:
            task = loop.create_task(self._send(notifier, alert))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return True

    async def _send(self, notifier: Notifier, alert: dict[str, Any]) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        with contextlib.suppress(asyncio.CancelledError):
            await notifier.send(self._session, alert)
