"""What each Telegram command does, through the same objects the API's routes use: the bots
manager, the trading desk (its kill switch, risk engine and order path), the balance cache.

Reading commands answer at once. Commands that trade or stop trading (/start_bot, /stop_bot,
/close, /kill, /resume) answer with what they would do and a code: nothing happens until the same
chat presses Confirm or sends ``/confirm <code>``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from streambot.bots import BotManager
from streambot.bus import PriceBoard
from streambot.domain import BotId, BotState, Trade
from streambot.exchange import ExchangeError
from streambot.risk.base import RiskRejection
from streambot.telegram.bot_api import Button
from streambot.telegram.confirmations import Action, PendingConfirmations
from streambot.trading.balances import AccountBalances
from streambot.trading.desk import TradingDesk
from streambot.trading.pnl import pnl_totals

log = logging.getLogger(__name__)

MAX_BOT_ID = 2**31 - 1
TRADES_SHOWN = 10


class TradeHistory(Protocol):
    async def list_trades(
        self,
        *,
        bot_id: int | None = None,
        product_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[Trade]: ...


@dataclass(slots=True)
class Reply:
    text: str
    buttons: list[Button] = field(default_factory=list)


HELP = (
    "streambot commands:\n"
    "/status: feed, risk state and bots\n"
    "/profit: realised and unrealised P&L\n"
    "/balance: account balances\n"
    "/positions: open positions\n"
    "/trades: the last trades\n"
    "/start_bot <id>, /stop_bot <id>: start or stop a bot\n"
    "/close <id>: sell a bot's whole position now\n"
    "/kill [reason]: stop all trading and cancel open orders\n"
    "/resume: lift the kill switch and a risk halt\n"
    "/confirm <code>, /cancel <code>: answer a confirmation"
)


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _signed(value: Decimal) -> str:
    return f"{value:+,.2f}"


class TelegramCommands:
    def __init__(
        self,
        *,
        bots: BotManager,
        desk: TradingDesk,
        balances: AccountBalances,
        prices: PriceBoard,
        trades: TradeHistory,
        feed_state: Callable[[], str],
        confirmations: PendingConfirmations,
    ) -> None:
        self._bots = bots
        self._desk = desk
        self._balances = balances
        self._prices = prices
        self._trades = trades
        self._feed_state = feed_state
        self._confirmations = confirmations

    async def handle(self, chat_id: int, text: str) -> Reply | None:
        """The reply to a message; None for a message that is not a command."""
        words = text.strip().split()
        if not words or not words[0].startswith("/"):
            return None
        # "/status@streambot_bot" in group chats names the bot the command is for.
        command = words[0][1:].partition("@")[0].lower()
        args = words[1:]
        match command:
            case "start" | "help":
                return Reply(HELP)
            case "status":
                return Reply(await self._status())
            case "profit":
                return Reply(await self._profit())
            case "balance":
                return Reply(await self._balance())
            case "positions":
                return Reply(await self._positions())
            case "trades":
                return Reply(await self._recent_trades())
            case "start_bot" | "stop_bot" | "close":
                return await self._bot_command(chat_id, command, args)
            case "kill":
                reason = " ".join(args)[:200] or "kill switch from Telegram"
                return self._ask(
                    chat_id,
                    "turn the kill switch ON: no order leaves and open orders are cancelled",
                    lambda: self._kill(reason),
                )
            case "resume":
                return self._ask(
                    chat_id,
                    "turn the kill switch OFF and lift a risk halt: trading resumes",
                    self._resume,
                )
            case "confirm":
                if len(args) != 1:
                    return Reply("Send /confirm <code> with the code of the confirmation.")
                return Reply(await self.confirm(chat_id, args[0]))
            case "cancel":
                if len(args) != 1:
                    return Reply("Send /cancel <code> with the code of the confirmation.")
                return Reply(self.cancel(chat_id, args[0]))
            case _:
                return Reply(f"Unknown command /{command[:40]}.\n\n{HELP}")

    async def confirm(self, chat_id: int, code: str) -> str:
        pending = self._confirmations.take(chat_id, code)
        if pending is None:
            return f"No confirmation {code[:20]!r} is waiting in this chat (codes expire after a while)."
        log.info("🤖 Telegram: confirmed in chat %d: %s", chat_id, pending.summary)
        try:
            return await pending.run()
        except Exception as exc:
            log.exception("❌ Telegram command failed: %s", pending.summary)
            return f"❌ Failed: {type(exc).__name__}"

    def cancel(self, chat_id: int, code: str) -> str:
        pending = self._confirmations.take(chat_id, code)
        if pending is None:
            return f"No confirmation {code[:20]!r} is waiting in this chat."
        return f"Cancelled: {pending.summary}."

    # --- asking ------------------------------------------------------------------------------

    def _ask(self, chat_id: int, summary: str, run: Action) -> Reply:
        code = self._confirmations.ask(chat_id, summary, run)
        return Reply(
            f"⚠️ Confirm: {summary}?\nPress Confirm or reply /confirm {code} "
            f"within {self._confirmations.ttl_s:.0f} s.",
            [("✅ Confirm", f"confirm:{code}"), ("✖️ Cancel", f"cancel:{code}")],
        )

    async def _bot_command(self, chat_id: int, command: str, args: list[str]) -> Reply:
        if len(args) != 1 or not (args[0].isascii() and args[0].isdigit()) or len(args[0]) > 10:
            return Reply(f"Send /{command} <bot id>, e.g. /{command} 3 (ids are listed by /status).")
        bot_id = BotId(int(args[0]))
        if not 1 <= bot_id <= MAX_BOT_ID:
            return Reply(f"Send /{command} <bot id> with an id from /status.")
        try:
            record = await self._bots.get(bot_id)
        except LookupError:
            return Reply(f"Bot {bot_id} does not exist (ids are listed by /status).")
        name = f"bot {record.id} {record.name!r} ({record.product_id})"
        if command == "start_bot":
            return self._ask(chat_id, f"start {name}: it will trade", lambda: self._start(bot_id))
        if command == "stop_bot":
            return self._ask(chat_id, f"stop {name}: it stops trading", lambda: self._stop(bot_id))
        if not self._bots.holding(bot_id):
            return Reply(f"{name} has no position to close.")
        position = self._bots.position(bot_id)
        return self._ask(
            chat_id,
            f"market-sell {format(position.base, 'f')} {record.product_id.partition('-')[0]} of {name}",
            lambda: self._close(bot_id),
        )

    # --- acting ------------------------------------------------------------------------------

    async def _start(self, bot_id: BotId) -> str:
        record = await self._bots.start(bot_id)
        log.info("🤖 Bot %d started from Telegram", bot_id)
        suffix = f": {record.error_reason}" if record.error_reason else ""
        return f"🤖 Bot {record.id} {record.name!r} is {record.state.value}{suffix}."

    async def _stop(self, bot_id: BotId) -> str:
        record = await self._bots.stop(bot_id)
        log.info("🤖 Bot %d stopped from Telegram", bot_id)
        return f"🛑 Bot {record.id} {record.name!r} is {record.state.value}."

    async def _close(self, bot_id: BotId) -> str:
        """The API's close (POST /bots/{id}/close): a market sell of the whole position through the
        order path and its risk rules for exits."""
        record = await self._bots.get(bot_id)
        if not self._bots.holding(bot_id):
            return f"Bot {bot_id} has no position to close any more."
        tick = self._prices.get(record.product_id)
        if tick is None:
            return f"No price for {record.product_id} yet; close again once the market data arrives."
        outcome = await self._desk.order_path.exit_position(
            self._bots.exit_runtime(bot_id),
            tick,
            "close: sell the whole position (asked for over Telegram)",
            wait=False,
        )
        if isinstance(outcome, RiskRejection):
            return f"❌ The close was refused: {outcome.code}: {outcome.message}"
        log.info("🤖 Close of bot %d asked for from Telegram: order %s", bot_id, outcome.client_order_id)
        return (
            f"💰 Closing bot {bot_id}: sell order {outcome.client_order_id} for "
            f"{format(outcome.base_size or 0, 'f')} {record.product_id} is {outcome.status.value}."
        )

    async def _kill(self, reason: str) -> str:
        change = await self._desk.kill_switch.set(None, True, reason)
        log.warning("🛑 Kill switch turned on from Telegram: %s", reason)
        if not change.changed:
            return "🛑 The kill switch was already on."
        return f"🛑 Kill switch ON: no order leaves; {change.cancelled_orders} open orders cancelled."

    async def _resume(self) -> str:
        switched = await self._desk.kill_switch.set(None, False, "")
        resumed = await self._desk.risk.resume(None, "telegram")
        log.warning("✅ Trading resumed from Telegram (kill switch off, halt lifted)")
        if not switched.changed and not resumed:
            return "✅ Trading was not stopped: the kill switch was off and the account not halted."
        return "✅ Trading resumed: kill switch off" + (", risk halt lifted." if resumed else ".")

    # --- reading -----------------------------------------------------------------------------

    async def _status(self) -> str:
        account = self._desk.risk.account
        if account.kill_switch:
            trading = f"🛑 kill switch ON ({account.kill_reason or 'no reason given'})"
        elif account.halted:
            trading = f"⛔ HALTED: {account.halt_reason}"
        else:
            trading = "✅ trading active"
        lines = [f"Feed: {self._feed_state()} · {trading}"]
        records = await self._bots.list()
        running = sum(1 for r in records if r.state is BotState.RUNNING)
        lines.append(f"Bots: {running} running of {len(records)}")
        for r in records:
            icon = "🟢" if r.state is BotState.RUNNING else "⚪"
            error = f" ({r.error_reason[:80]})" if r.error_reason else ""
            lines.append(f"{icon} #{r.id} {r.name} · {r.product_id} · {r.state.value}{error}")
        return "\n".join(lines)

    async def _profit(self) -> str:
        bots = await self._desk.bots_pnl()
        realized, unrealized = pnl_totals(bots)
        equity = await self._desk.account_equity()
        lines = [
            f"P&L: {_signed(realized + unrealized)} "
            f"(realised {_signed(realized)}, unrealised {_signed(unrealized)})",
            f"Account equity: {_money(equity) if equity is not None else 'not known yet'}",
        ]
        lines += [f"#{b.bot_id} {b.name}: {_signed(b.total)}" for b in bots]
        return "\n".join(lines)

    async def _balance(self) -> str:
        try:
            balances = await self._balances.balances()
        except ExchangeError:
            return "❌ The exchange did not return balances; try again shortly."
        rows = sorted((b for b in balances.values() if b.total > 0), key=lambda b: (-b.total, b.currency))
        if not rows:
            return "No balances."
        age = self._balances.age
        lines = [f"{b.currency}: {format(b.total, 'f')} (available {format(b.available, 'f')})" for b in rows]
        if age is not None:
            lines.append(f"💾 cache age {age:.1f}s")
        return "\n".join(lines)

    async def _positions(self) -> str:
        held = [b for b in await self._desk.bots_pnl() if b.base > 0]
        if not held:
            return "No open positions."
        return "\n".join(
            f"#{b.bot_id} {b.name}: {format(b.base, 'f')} {b.product_id} @ {_money(b.average_entry)}"
            + (f", now {_money(b.price)}, unrealised {_signed(b.unrealized)}" if b.price is not None else "")
            for b in held
        )

    async def _recent_trades(self) -> str:
        trades = await self._trades.list_trades(limit=TRADES_SHOWN)
        if not trades:
            return "No trades yet."
        return "\n".join(
            f"{t.created_at:%m-%d %H:%M} #{t.bot_id} {t.side.value} {format(t.base_size, 'f')} "
            f"{t.product_id} @ {_money(t.price)} (fee {_money(t.fee)})"
            for t in trades
        )
