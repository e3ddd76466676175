"""What the risk engine remembers across restarts, per scope (the account, or one bot)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from streambot.domain import BotId

ACCOUNT = "account"


def scope_key(bot_id: BotId | None) -> str:
    return ACCOUNT if bot_id is None else f"bot:{bot_id}"


@dataclass(slots=True)
class ScopeState:
    """HALTED and the kill switch for one scope; the account row also tracks equity marks."""

    bot_id: BotId | None = None
    halted: bool = False
    halt_code: str = ""
    halt_reason: str = ""
    halted_at: datetime | None = None
    kill_switch: bool = False
    kill_reason: str = ""
    kill_at: datetime | None = None
    day: str = ""  # UTC date (YYYY-MM-DD) that day_start_equity belongs to
    day_start_equity: Decimal | None = None
    equity_peak: Decimal | None = None
    last_loss_at: datetime | None = None

    @property
    def key(self) -> str:
        return scope_key(self.bot_id)

    @property
    def scope(self) -> str:
        return ACCOUNT if self.bot_id is None else "bot"


@dataclass(frozen=True, slots=True)
class EquitySnapshot:
    taken_at: datetime
    bot_id: BotId | None  # None: the whole account
    equity: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    id: int | None = None
