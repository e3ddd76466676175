"""The shapes every risk rule shares: an intent, what a rule may look at, and a rejection.

A rule is a module with ``check(intent, ctx) -> RiskRejection | None``: pure, synchronous and cheap, so
the whole set runs between the decision and the order without touching a database or the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from streambot.domain import BotId, Position, Product, ProductId, Side, slot_init
from streambot.risk.state import ScopeState

ZERO = Decimal(0)
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class RiskRejection:
    """Why an order was not placed: ``code`` for machines, ``message`` a sentence for people."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


@slot_init
@dataclass(frozen=True, slots=True)
class Intent:
    """An order the executor wants to place, already sized on the product's increments."""

    bot_id: BotId
    product_id: ProductId
    side: Side
    price: Decimal  # the market price the decision was made on
    quote_size: Decimal | None = None
    base_size: Decimal | None = None
    limit_price: Decimal | None = None

    @property
    def is_entry(self) -> bool:
        # Spot and long-only: a buy opens or adds, a sell reduces.
        return self.side is Side.BUY

    @property
    def notional(self) -> Decimal:
        """What the order is worth in the quote currency."""
        if self.quote_size is not None:
            return self.quote_size
        return (self.base_size or ZERO) * (self.limit_price or self.price)


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """The limits, all in the product's quote currency or percent; a zero turns a limit off."""

    max_order_notional: Decimal = Decimal(10_000)
    max_position_notional: Decimal = Decimal(50_000)
    daily_loss_pct: Decimal = Decimal(10)
    max_drawdown_pct: Decimal = Decimal(25)
    loss_cooldown_s: float = 60.0
    max_trades_per_hour: int = 120
    stale_price_s: float = 30.0
    halt_allows_exits: bool = True


@dataclass(slots=True)
class RiskContext:
    """Everything the rules may look at for one intent; built by the executor from memory."""

    limits: RiskLimits
    now: float  # UNIX seconds
    product: Product | None
    budget: Decimal
    position: Position
    open_buy_notional: Decimal = ZERO  # the bot's buys sent but not yet settled
    open_sell_base: Decimal = ZERO  # the bot's sells sent but not yet settled
    available_quote: Decimal | None = None  # None: unknown, the exchange will judge
    price_time: float = 0.0  # UNIX time of the price the decision used
    feed_state: str = "live"
    account: ScopeState = field(default_factory=ScopeState)
    bot: ScopeState = field(default_factory=ScopeState)
    equity: Decimal | None = None  # the account's latest equity
    trades_last_hour: int = 0


@dataclass(frozen=True, slots=True)
class Fall:
    """How far a value fell below its reference: in the quote currency and in percent."""

    reference: Decimal
    amount: Decimal
    pct: Decimal


def fall_beyond(reference: Decimal | None, value: Decimal | None, limit_pct: Decimal) -> Fall | None:
    """The fall of ``value`` below ``reference`` once it reached ``limit_pct`` percent.

    None while within the limit, with the limit off (zero), or before both figures are known.
    """
    if limit_pct <= ZERO or reference is None or value is None or reference <= ZERO:
        return None
    fall = reference - value
    if fall * HUNDRED < reference * limit_pct:
        return None
    return Fall(reference, fall, fall * HUNDRED / reference)


def money(value: Decimal) -> str:
    """An amount for a sentence: two places, no exponent."""
    return f"{value.quantize(Decimal('0.01')):,}"


def amount(value: Decimal) -> str:
    return format(value.normalize(), "f")  # never an exponent: 1E+1 reads as 10
