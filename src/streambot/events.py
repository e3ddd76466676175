"""The typed events of the bus: what happened, past tense, each under its topic.

Topics are dotted and hierarchical (``orders.filled``, ``risk.halted``); a subscriber to a prefix
such as ``orders`` hears every topic below it. Events are frozen msgspec Structs, tagged with their
class name, so ``msgspec.json.encode`` / ``decode(…, type=AnyEvent)`` carries them unchanged over a
process boundary (a Redis Streams bus) and back.

``ts`` is when the event happened, UNIX seconds. Publishers usually leave it 0 and the bus stamps
it from its clock on ``publish``; an event relayed from another process keeps the time it has.

Ticks do not travel as events: they take the bus's latest-wins mailboxes (``publish_tick``), and
the latest price per product is on the price board.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar, Literal

import msgspec

from streambot.domain import BotId, BotState, FeedState, OrderRecord, OrderStatus, ProductId, Side, Trade


class Event(msgspec.Struct, frozen=True, kw_only=True, tag=True):
    """The base of every bus event."""

    TOPIC: ClassVar[str] = ""
    ts: float = 0.0

    @property
    def topic(self) -> str:
        return self.TOPIC


# --- the feed -------------------------------------------------------------------------------


class FeedStateChanged(Event, frozen=True, kw_only=True):
    TOPIC: ClassVar[str] = "feed.state"
    state: FeedState
    reason: str
    since: float  # UNIX seconds the state began


class FeedGapDetected(Event, frozen=True, kw_only=True):
    """Frames were missed: a jump in the sequence numbers or in the heartbeat counter."""

    TOPIC: ClassVar[str] = "feed.gap"
    kind: Literal["sequence", "heartbeat"]
    expected: int
    got: int
    channel: str


# --- bots and their decisions -----------------------------------------------------------------


class SignalRaised(Event, frozen=True, kw_only=True):
    """A bot's strategy decided to trade (before guards, sizing and risk)."""

    TOPIC: ClassVar[str] = "bots.signal"
    bot_id: BotId
    product_id: ProductId
    side: Side
    reason: str
    price: float  # the price of the tick it decided on


class BotCreated(Event, frozen=True, kw_only=True):
    TOPIC: ClassVar[str] = "bots.created"
    bot_id: BotId


class BotUpdated(Event, frozen=True, kw_only=True):
    TOPIC: ClassVar[str] = "bots.updated"
    bot_id: BotId


class BotDeleted(Event, frozen=True, kw_only=True):
    TOPIC: ClassVar[str] = "bots.deleted"
    bot_id: BotId


class BotStateChanged(Event, frozen=True, kw_only=True):
    TOPIC: ClassVar[str] = "bots.state"
    bot_id: BotId
    state: BotState
    reason: str


# --- orders and trades ------------------------------------------------------------------------

# Each status's topic, made once: an order publishes five of them (an enum's .value is slow).
_ORDER_TOPICS: dict[OrderStatus, str] = {status: f"orders.{status.value}" for status in OrderStatus}


class OrderUpdated(Event, frozen=True, kw_only=True, omit_defaults=True):
    """An order reached a status of its lifecycle; the topic is ``orders.<status>``."""

    order: OrderRecord
    tick_price: float | None = None  # the decision's tick price, on the intent only

    @property
    def topic(self) -> str:
        return _ORDER_TOPICS[self.order.status]


class TradeBooked(Event, frozen=True, kw_only=True, omit_defaults=True):
    """An order's fills were booked as a trade (again, with new amounts, as more fills come).

    ``realized_pnl``: what the fills booked with this event realized in the bot's position, as
    settlement computed it when it moved the position (0 for buys and for a booking that added
    no fill); summed over an order's events, what the trade realized. None when the bot's
    position is not kept in the process that booked it (reconciliation of an unloaded bot).
    """

    TOPIC: ClassVar[str] = "trades.executed"
    trade: Trade
    realized_pnl: Decimal | None = None


# --- risk ---------------------------------------------------------------------------------------


class RiskHalted(Event, frozen=True, kw_only=True):
    TOPIC: ClassVar[str] = "risk.halted"
    scope: str
    bot_id: BotId | None  # None: the whole account
    code: str
    reason: str


class RiskResumed(Event, frozen=True, kw_only=True):
    TOPIC: ClassVar[str] = "risk.resumed"
    scope: str
    bot_id: BotId | None
    by: str


class KillSwitchChanged(Event, frozen=True, kw_only=True):
    TOPIC: ClassVar[str] = "risk.kill_switch"
    scope: str
    bot_id: BotId | None
    on: bool
    reason: str


class PositionMismatchFound(Event, frozen=True, kw_only=True):
    """The account's balance of an asset moved differently from what the bots' fills say: entries
    on its products are halted until a person acknowledges it."""

    TOPIC: ClassVar[str] = "risk.position_mismatch"
    asset: str
    product_ids: list[ProductId]
    expected: Decimal  # the balance the bots' fills account for
    actual: Decimal  # the balance the exchange reports
    difference: Decimal  # actual - expected


class PositionMismatchAcknowledged(Event, frozen=True, kw_only=True):
    TOPIC: ClassVar[str] = "risk.position_mismatch_acknowledged"
    product_id: ProductId
    by: str


class ExchangeActivityFlagged(Event, frozen=True, kw_only=True):
    """The exchange shows an order or a fill the store does not know and could not adopt."""

    TOPIC: ClassVar[str] = "risk.exchange_activity"
    kind: Literal["order", "fill"]
    product_id: ProductId
    exchange_order_id: str
    client_order_id: str
    detail: str


# --- alerts ---------------------------------------------------------------------------------


class AlertRaised(Event, frozen=True, kw_only=True):
    TOPIC: ClassVar[str] = "alerts.raised"
    code: str
    severity: str
    message: str
    since: float  # UNIX seconds


class AlertCleared(Event, frozen=True, kw_only=True):
    TOPIC: ClassVar[str] = "alerts.cleared"
    code: str
    severity: str
    message: str
    since: float


# --- backtests run by the API -----------------------------------------------------------------


class BacktestUpdated(Event, frozen=True, kw_only=True, omit_defaults=True):
    """A backtest run was queued, made progress, finished, failed or was cancelled; the topic is
    ``backtests.<state>``. ``at`` is the data time the replay reached (UNIX seconds)."""

    TOPIC: ClassVar[str] = "backtests"
    backtest_id: int
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    ticks: int = 0
    at: float | None = None
    ticks_per_s: int = 0
    error: str | None = None

    @property
    def topic(self) -> str:
        return f"backtests.{self.state}"


# --- parameter optimisations (the API's runs) ------------------------------------------------


class OptimizationProgressed(Event, frozen=True, kw_only=True):
    """A parameter search started from the API moved on: trials finished, best so far, or ended."""

    TOPIC: ClassVar[str] = "optimizations.progress"
    optimization_id: str
    status: Literal["running", "done", "failed", "interrupted"]
    trials: int  # finished trials in the study
    trials_target: int
    best_value: float | None = None


# --- the cluster: commands between its processes ---------------------------------------------


class CloseRequested(Event, frozen=True, kw_only=True):
    """The API process asks the worker that owns a running bot to sell the bot's whole position
    (``POST /api/v1/bots/{id}/close``); only that worker trades the bot, with its fencing token."""

    TOPIC: ClassVar[str] = "cluster.close_requested"
    request_id: str
    bot_id: BotId


class CloseAnswered(Event, frozen=True, kw_only=True, omit_defaults=True):
    """The owning worker's answer: the sell it stored, or why the close was refused."""

    TOPIC: ClassVar[str] = "cluster.close_answered"
    request_id: str
    bot_id: BotId
    worker_id: str
    order: OrderRecord | None = None
    refused: Literal["", "conflict", "unprocessable"] = ""
    message: str = ""


class UserUpdatesLost(Event, frozen=True, kw_only=True):
    """The feed process's ``user`` channel may have lost an order update (a sequence gap, a
    reconnect): the worker reconciling the account reads the orders back over REST at once."""

    TOPIC: ClassVar[str] = "cluster.user_gap"
    reason: str


AnyEvent = (
    FeedStateChanged
    | FeedGapDetected
    | SignalRaised
    | BotCreated
    | BotUpdated
    | BotDeleted
    | BotStateChanged
    | OrderUpdated
    | TradeBooked
    | RiskHalted
    | RiskResumed
    | KillSwitchChanged
    | PositionMismatchFound
    | PositionMismatchAcknowledged
    | ExchangeActivityFlagged
    | AlertRaised
    | AlertCleared
    | BacktestUpdated
    | OptimizationProgressed
    | CloseRequested
    | CloseAnswered
    | UserUpdatesLost
)
"""Every concrete event: ``msgspec.json.decode(data, type=AnyEvent)`` reads any of them back."""

EVENT_TYPES: tuple[type[Event], ...] = (
    FeedStateChanged,
    FeedGapDetected,
    SignalRaised,
    BotCreated,
    BotUpdated,
    BotDeleted,
    BotStateChanged,
    OrderUpdated,
    TradeBooked,
    RiskHalted,
    RiskResumed,
    KillSwitchChanged,
    PositionMismatchFound,
    PositionMismatchAcknowledged,
    ExchangeActivityFlagged,
    AlertRaised,
    AlertCleared,
    BacktestUpdated,
    OptimizationProgressed,
    CloseRequested,
    CloseAnswered,
    UserUpdatesLost,
)
