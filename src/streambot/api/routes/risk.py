"""Risk limits and state; the kill switches; lifting HALTED and position-mismatch holds (only ever
done by a person, here)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

from fastapi import APIRouter
from pydantic import BaseModel, Field, StrictBool, field_validator, model_validator

from streambot.api.deps import MAX_ID, Platform
from streambot.api.errors import unprocessable
from streambot.api.schemas import Amount, Input
from streambot.domain import BotId, ProductHold
from streambot.risk.state import ScopeState

router = APIRouter(prefix="/risk", tags=["risk"])


class LimitsOut(BaseModel):
    max_order_notional: Amount
    max_position_notional: Amount
    daily_loss_pct: Amount
    max_drawdown_pct: Amount
    loss_cooldown_s: float
    max_trades_per_hour: int
    stale_price_s: float
    halt_allows_exits: bool


class ScopeOut(BaseModel):
    scope: Literal["account", "bot"]
    bot_id: int | None
    halted: bool
    halt_code: str
    halt_reason: str
    halted_at: datetime | None
    kill_switch: bool
    kill_reason: str
    kill_at: datetime | None

    @classmethod
    def of(cls, state: ScopeState) -> ScopeOut:
        return cls(
            scope="account" if state.bot_id is None else "bot",
            bot_id=state.bot_id,
            halted=state.halted,
            halt_code=state.halt_code,
            halt_reason=state.halt_reason,
            halted_at=state.halted_at,
            kill_switch=state.kill_switch,
            kill_reason=state.kill_reason,
            kill_at=state.kill_at,
        )


class HoldOut(BaseModel):
    """Entries on a product halted until acknowledged (``POSITION_MISMATCH``)."""

    product_id: str
    code: str
    reason: str
    held_at: datetime

    @classmethod
    def of(cls, hold: ProductHold) -> HoldOut:
        return cls(product_id=hold.product_id, code=hold.code, reason=hold.reason, held_at=hold.held_at)


class RiskOut(BaseModel):
    limits: LimitsOut
    account: ScopeOut
    bots: list[ScopeOut]
    equity: Amount | None
    day_start_equity: Amount | None
    equity_peak: Amount | None
    open_orders: int
    open_buy_notional: Amount
    rejections: dict[str, int]
    product_holds: list[HoldOut]


def _text(value: str, name: str) -> str:
    """Stored and logged as UTF-8: lone surrogates or control characters cannot be."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{name} must be valid Unicode text") from None
    if any(ord(c) < 32 for c in value):
        raise ValueError(f"{name} must not contain control characters")
    return value


class _ScopeIn(Input):
    """The account, or one bot (``bot_id`` given exactly when ``scope`` is "bot")."""

    scope: Literal["account", "bot"] = "account"
    bot_id: int | None = Field(default=None, ge=1, le=MAX_ID)

    @model_validator(mode="after")
    def _bot_for_bot_scope(self) -> Self:
        if self.scope == "bot" and self.bot_id is None:
            raise ValueError("bot_id is required when scope is 'bot'")
        if self.scope == "account" and self.bot_id is not None:
            raise ValueError("bot_id must be left out when scope is 'account'")
        return self


class KillSwitchIn(_ScopeIn):
    on: StrictBool  # "yes", 1 or "true" are not a decision to stop trading: only true or false
    reason: str = Field(default="", max_length=500)

    _reason_is_text = field_validator("reason")(lambda value: _text(value, "reason"))


class ResumeIn(_ScopeIn):
    by: str = Field(default="api", min_length=1, max_length=200)

    _by_is_text = field_validator("by")(lambda value: _text(value, "by"))


class AcknowledgeIn(Input):
    product_id: str = Field(min_length=1, max_length=64)
    by: str = Field(default="api", min_length=1, max_length=200)

    _by_is_text = field_validator("by")(lambda value: _text(value, "by"))


class AcknowledgedOut(BaseModel):
    changed: bool
    product_id: str
    product_holds: list[HoldOut]


class ChangeOut(BaseModel):
    changed: bool
    state: ScopeOut
    cancelled_orders: int = 0


def _risk_out(p: Platform) -> RiskOut:
    engine = p.trading.risk
    limits = engine.limits
    account = engine.account
    return RiskOut(
        limits=LimitsOut(
            max_order_notional=limits.max_order_notional,
            max_position_notional=limits.max_position_notional,
            daily_loss_pct=limits.daily_loss_pct,
            max_drawdown_pct=limits.max_drawdown_pct,
            loss_cooldown_s=limits.loss_cooldown_s,
            max_trades_per_hour=limits.max_trades_per_hour,
            stale_price_s=limits.stale_price_s,
            halt_allows_exits=limits.halt_allows_exits,
        ),
        account=ScopeOut.of(account),
        bots=[ScopeOut.of(s) for s in engine.scopes() if s.bot_id is not None],
        equity=engine.last_equity,
        day_start_equity=account.day_start_equity,
        equity_peak=account.equity_peak,
        open_orders=len(p.trading.open_orders),
        open_buy_notional=p.trading.open_orders.total_open_notional(),
        rejections=dict(engine.rejections),
        product_holds=[HoldOut.of(hold) for hold in p.trading.holds.all()],
    )


async def _require_bot(p: Platform, bot_id: int | None) -> BotId | None:
    if bot_id is None:
        return None
    if await p.store.get_bot(bot_id) is None:
        raise unprocessable(("body", "bot_id"), f"bot {bot_id} does not exist")
    return BotId(bot_id)


@router.get("")
async def risk_state(p: Platform) -> RiskOut:
    """The limits in force, the account's and every bot's HALTED and kill-switch state."""
    return _risk_out(p)


@router.post("/kill-switch")
async def kill_switch(body: KillSwitchIn, p: Platform) -> ChangeOut:
    """On: no order leaves (account or one bot) and open orders are cancelled. Off: trading resumes."""
    bot_id = await _require_bot(p, body.bot_id)
    change = await p.trading.kill_switch.set(bot_id, body.on, body.reason)
    return ChangeOut(
        changed=change.changed, state=ScopeOut.of(change.state), cancelled_orders=change.cancelled_orders
    )


@router.post("/resume")
async def resume(body: ResumeIn, p: Platform) -> ChangeOut:
    """Lift HALTED for the account or a bot; a person decides this, nothing else ever does."""
    bot_id = await _require_bot(p, body.bot_id)
    engine = p.trading.risk
    changed = await engine.resume(bot_id, body.by)
    state = engine.account if bot_id is None else engine.bot(bot_id)
    return ChangeOut(changed=changed, state=ScopeOut.of(state))


@router.post("/acknowledge")
async def acknowledge(body: AcknowledgeIn, p: Platform) -> AcknowledgedOut:
    """A person looked at a position mismatch: entries on the product resume. ``changed`` false
    when the product was not held."""
    if body.product_id not in p.trading.order_path.products:
        raise unprocessable(("body", "product_id"), f"{body.product_id} is not a traded product")
    changed = await p.trading.holds.acknowledge(body.product_id, body.by)
    return AcknowledgedOut(
        changed=changed,
        product_id=body.product_id,
        product_holds=[HoldOut.of(hold) for hold in p.trading.holds.all()],
    )
