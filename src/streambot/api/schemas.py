"""Request and response models: the API's edge. Input models forbid unknown fields."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, localcontext
from typing import Annotated, Any, Self

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from streambot.bots import BotCreate
from streambot.domain import BotRecord, Trade

__all__ = ["BotCreate"]  # defined with the bots (backtests read the same fields from a file)


def _plain(value: Decimal) -> str:
    return format(value, "f")


Amount = Annotated[Decimal, PlainSerializer(_plain, return_type=str, when_used="json")]
"""A decimal in responses: exact, and in plain notation (Coinbase's ``0.0000000000000000`` hold
would otherwise read ``0E-16``, and a size of ``0.0000001`` would read ``1E-7``)."""

_COMPUTED_PLACES = Decimal("1e-12")


def _computed(value: Decimal) -> str:
    with localcontext() as context:
        # Room for 12 places on any amount, however large: a bot stored with a huge budget must
        # not turn every P&L answer into a 500.
        context.prec = max(60, value.adjusted() + 14)
        rounded = value.quantize(_COMPUTED_PLACES).normalize()
    return format(rounded + 0, "f")  # + 0: no "-0" for a loss that rounds away


Computed = Annotated[Decimal, PlainSerializer(_computed, return_type=str, when_used="json")]
"""A decimal computed by division (average entry, a sold share of cost, P&L): 12 places at most,
trailing zeros dropped. Exact would read ``180.9693400000000000268848052`` for an entry of
``180.96934``; the stored fills it comes from stay exact."""


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BotUpdate(Input):
    """Strategy and product are fixed for a bot's life (its position belongs to them): create a new bot."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    params: dict[str, Any] | None = None
    budget: Decimal | None = Field(default=None, gt=0)


class PositionSummaryOut(BaseModel):
    """A bot's holding as its status shows it; GET /positions gives the full PositionOut."""

    base_size: Amount
    average_entry: Computed
    cost: Computed
    realized_pnl: Computed


class BotOut(BaseModel):
    id: int
    name: str
    strategy: str
    product_id: str
    params: dict[str, Any]
    budget: Amount
    state: str
    error_reason: str
    streaming: bool
    allow_below_fee: bool = Field(
        default=False,
        description="The bot's take-profit may be below the round-trip fee (params.allow_below_fee)",
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: BotRecord) -> BotOut:
        return cls(
            id=record.id,
            name=record.name,
            strategy=record.strategy,
            product_id=record.product_id,
            params=record.params,
            budget=record.budget,
            state=record.state.value,
            error_reason=record.error_reason,
            streaming=record.streaming,
            allow_below_fee=record.params.get("allow_below_fee") is True,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class SignalOut(BaseModel):
    side: str
    reason: str
    at: float


class BotStatusOut(BotOut):
    position: PositionSummaryOut
    unrealized_pnl: Computed  # base × bid − cost, and cost carries a sold share's division noise
    evaluations: int
    signals: int
    mean_eval_us: float
    tick_to_decision_p99_us: float
    last_signal: SignalOut | None
    last_price: float | None
    break_even_price: Computed | None = Field(
        default=None,
        description="The price at which selling the whole position gets back its cost: the average "
        "entry (buy fee included) grossed up for the sell's taker fee; null while nothing is held",
    )


class CloseOut(BaseModel):
    """A close (market sell of the bot's whole position) accepted: its order, stored and under way."""

    bot_id: int
    client_order_id: str
    status: str
    base_size: Amount
    product_id: str


class BudgetLimitsOut(BaseModel):
    maximum: Amount  # STREAMBOT_MAX_BOT_BUDGET
    cash_available: dict[str, Amount] | None  # per quote currency; None when balances are unavailable
    checked_against_cash: bool  # live: the server refuses a budget above the cash


class FeesOut(BaseModel):
    maker_fee_rate: Amount = Field(description="A fraction: 0.006 is 0.6 %")
    taker_fee_rate: Amount = Field(description="A fraction: 0.012 is 1.2 %")
    source: str = Field(description="exchange (the account's tier, read daily) or configured (paper)")
    round_trip_pct: Computed = Field(description="A market buy and sell, both as taker, in percent")
    break_even_rise_pct: Computed = Field(description="The rise over a buy's price that pays both fees")


class UnassignedHoldingOut(BaseModel):
    """Coins in the account no bot's position accounts for (kept from a deleted bot, bought by hand)."""

    currency: str
    product_id: str
    base_size: Amount
    price: Amount | None
    market_value: Computed | None


class TradeOut(BaseModel):
    id: int | None
    bot_id: int
    product_id: str
    side: str
    action: str = Field(description="buy or sell (the old system's name for side)")
    base_size: Amount
    price: Amount
    quote_amount: Amount
    fee: Amount
    net_total: Amount
    status: str
    client_order_id: str
    exchange_order_id: str
    reason: str
    created_at: datetime
    filled_at: datetime | None

    @classmethod
    def of(cls, trade: Trade) -> Self:
        return cls(
            id=trade.id,
            bot_id=trade.bot_id,
            product_id=trade.product_id,
            side=trade.side.value,
            action=trade.side.value.lower(),
            base_size=trade.base_size,
            price=trade.price,
            quote_amount=trade.quote_amount,
            fee=trade.fee,
            net_total=trade.net_total,
            status=trade.status.value,
            client_order_id=trade.client_order_id,
            exchange_order_id=trade.exchange_order_id,
            reason=trade.reason,
            created_at=trade.created_at,
            filled_at=trade.filled_at,
        )


class TickerOut(BaseModel):
    product_id: str
    price: float
    best_bid: float
    best_ask: float
    volume_24h: float
    low_24h: float
    high_24h: float
    price_change_pct_24h: float
    time: float
    age_s: float


class FeedControlOut(BaseModel):
    success: bool
    message: str
    state: str = Field(description="The feed's state right after the call")


class StreamingToggleOut(BaseModel):
    success: bool
    bot_id: int
    streaming: bool
    mode: str = Field(description="streaming (every tick) or polling (every few seconds)")
    message: str


class StreamingBotOut(BaseModel):
    bot_id: int
    name: str
    product_id: str
    state: str
    streaming: bool
    active: bool = Field(description="Running and being evaluated")
    evaluations: int


class StreamingStatusOut(BaseModel):
    feed_state: str
    active_streams: int = Field(description="Running bots evaluated on every tick")
    polling_bots: int = Field(description="Running bots evaluated by the polling loop")
    total: int
    bots: list[StreamingBotOut]


class AccountOut(BaseModel):
    currency: str
    available: Amount
    hold: Amount
    total: Amount


class AccountsOut(BaseModel):
    accounts: list[AccountOut]
    total: int
    cache_age_s: float | None = Field(description="Seconds since the balances were fetched")
    cache_ttl_s: float
    cache_hit_rate: float


class CandleOut(BaseModel):
    start: int = Field(description="UNIX seconds")
    open: float
    high: float
    low: float
    close: float
    volume: float = Field(description="Estimated from the ticker's 24 h volume")
    closed: bool


class CandlesOut(BaseModel):
    product_id: str
    timeframe: str
    candles: list[CandleOut]
