"""What a backtest run produces: the run's inputs, every fill and booked trade, and each bot's
equity sampled over the run. The report (metrics, terminal summary, HTML and PNG charts) and the
``--json`` output are computed from this alone, so a saved result can be reported again.

Money stays ``Decimal``; times are UNIX seconds of the data (the run's ManualClock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from streambot.domain import OrderRecord, slot_init


@dataclass(frozen=True, slots=True)
class SkippedLine:
    """An input line the run could not use: skipped, counted and listed, never fatal."""

    file: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class BacktestFill:
    """One fill of one bot's order, as the exchange (the matcher) reported it."""

    bot: str  # the bot's name
    side: str  # "BUY" or "SELL"
    size: Decimal  # base
    price: Decimal
    fee: Decimal  # quote
    quote: Decimal  # size * price, before the fee
    time: float
    client_order_id: str
    liquidity: str  # "TAKER" or "MAKER"


@dataclass(frozen=True, slots=True)
class BacktestTrade:
    """One order's fills as the platform booked them (a ``domain.Trade``), with what a sell realized.

    ``realized_pnl`` is the change of the bot's realized P&L that this trade caused: 0 for buys,
    proceeds − fee − cost of what was sold for sells (average-cost basis, fees included), so a
    sell is a win when it is > 0, a draw at 0 and a loss below.
    """

    bot: str
    product_id: str
    side: str
    size: Decimal
    price: Decimal  # average fill price
    quote: Decimal
    fee: Decimal
    realized_pnl: Decimal
    time: float  # when it was filled
    reason: str  # the strategy's reason for the signal
    client_order_id: str


@dataclass(frozen=True, slots=True)
class BacktestOrder:
    """One decision of a bot that reached the order path: the intent as stored, and how it ended
    (filled, rejected by a risk rule or the exchange, or still under way when the data ended)."""

    bot: str
    side: str
    time: float  # when it was decided (the intent's created_at)
    status: str  # OrderStatus value: filled, rejected, submitted…
    error_code: str  # why it was rejected, e.g. LOSS_COOLDOWN, INSUFFICIENT_FUND
    reason: str  # the strategy's reason for the signal
    price: Decimal  # average fill price (0 when nothing filled)
    filled_size: Decimal
    client_order_id: str


def decision(order: OrderRecord, bot: str) -> BacktestOrder:
    """A stored order intent (a session's or a replay's) as the report and the comparison read it."""
    return BacktestOrder(
        bot=bot,
        side=order.side.value,
        time=order.created_at.timestamp(),
        status=order.status.value,
        error_code=order.error_code,
        reason=order.reason,
        price=order.average_price,
        filled_size=order.filled_size,
        client_order_id=order.client_order_id,
    )


@slot_init
@dataclass(frozen=True, slots=True)
class EquitySample:
    """A bot's value at ``time``: budget + realized P&L + unrealized P&L marked at the last price."""

    time: float
    equity: Decimal
    position_base: Decimal  # the base held then (exposure is time with position_base > 0)
    price: Decimal  # the product's last price then (for buy-and-hold and the price chart)


@dataclass(slots=True)
class BotResult:
    name: str
    strategy: str
    product_id: str
    params: dict[str, object]
    budget: Decimal
    fills: list[BacktestFill] = field(default_factory=list)
    trades: list[BacktestTrade] = field(default_factory=list)
    decisions: list[BacktestOrder] = field(default_factory=list)  # every intent, in time order
    # Sampled on a fixed data-time grid (``BacktestResult.sample_s``), and at every trade, and at
    # the first and last tick: enough for returns, drawdown and charts without one point a tick.
    equity: list[EquitySample] = field(default_factory=list)
    signals: int = 0
    orders: int = 0
    rejected: int = 0  # orders refused by risk rules or the exchange
    realized_pnl: Decimal = Decimal(0)
    unrealized_pnl: Decimal = Decimal(0)  # the position at the end, marked at the last price
    fees: Decimal = Decimal(0)
    position_base: Decimal = Decimal(0)
    last_price: Decimal = Decimal(0)
    first_price: Decimal = Decimal(0)  # the product's first price in the span (buy-and-hold)


@dataclass(slots=True)
class BacktestResult:
    data: list[str]  # the --data paths, as given
    candle_derived: bool  # some ticks were expanded from candles (the report says so)
    products: list[str]
    start: float  # the first tick's time
    end: float  # the last tick's time
    maker_fee_rate: Decimal
    taker_fee_rate: Decimal
    latency_ms: float
    sample_s: float  # the equity grid
    ticks: int = 0
    skipped: list[SkippedLine] = field(default_factory=list)
    bots: list[BotResult] = field(default_factory=list)
    elapsed_s: float = 0.0  # wall time of the replay (a timing field: not part of the digest)
    digest: str = ""  # sha256 of the canonical orders and fills
