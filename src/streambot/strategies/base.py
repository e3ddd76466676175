"""What a strategy is and what it may see (``streambot.strategies.registry`` finds one by name).

A strategy is any object with ``on_tick(tick, ctx) -> Signal | None``. Optional hooks, found by
name so that a user's strategy needs none of them:

- ``warm_up(history, ctx)``: seed indicators from closed candles before the first tick;
- ``history_needed() -> WarmUpRequest | None``: which candles, and how many, warm-up wants;
- ``close()``: release shared indicator handles when the bot stops (garbage collection does
  it too, later).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from streambot.clock import Clock
from streambot.domain import Balance, BotId, Candle, Fill, Position, ProductId, Signal, Ticker, Timeframe
from streambot.strategies.indicators.hub import IndicatorHub

RECENT_FILLS = 50
_ZERO = Decimal(0)  # comparing Decimal to Decimal skips an int conversion on every tick

WHOLE_POSITION = Decimal(100)
"""The ``budget_pct`` of a sell of everything the bot holds."""


class StrategyParams(BaseModel):
    """Base of every strategy's parameters: immutable, and unknown names are an error.

    The exits are here, on the base, so that every strategy (a user's too) can carry them and no
    strategy implements them itself: ``build`` wraps the strategy when any is set.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stop_loss_pct: float | None = Field(
        default=None,
        gt=0,
        lt=100,
        description="Exit: sell the whole position when the price falls this % below the average "
        "entry (fees included).",
    )
    take_profit_pct: float | None = Field(
        default=None,
        gt=0,
        le=1000,
        description="Exit: sell the whole position when the price rises this % above the average entry.",
    )
    trailing_stop_pct: float | None = Field(
        default=None,
        gt=0,
        lt=100,
        description="Exit: sell the whole position when the price falls this % below its highest "
        "since the position opened.",
    )

    allow_below_fee: bool = Field(
        default=False,
        strict=True,
        description="Accept a take-profit (or sell rise, grid step) below the round-trip fee: every "
        "such sell loses money after fees. Off by default: such a bot is refused.",
    )

    def take_profits(self) -> list[tuple[str, float]]:
        """Each planned profit of a round trip, as (parameter name, % rise over the buy): the
        platform refuses one that fees would eat, unless ``allow_below_fee``. Strategies whose
        sells are set by a rise add theirs (``super().take_profits()`` first)."""
        return [] if self.take_profit_pct is None else [("take_profit_pct", self.take_profit_pct)]

    @property
    def has_exits(self) -> bool:
        return not (
            self.stop_loss_pct is None and self.take_profit_pct is None and self.trailing_stop_pct is None
        )


_NO_BALANCES: Mapping[str, Balance] = MappingProxyType({})


def _no_balances() -> Mapping[str, Balance]:
    return _NO_BALANCES  # one shared empty view: nothing to allocate per context


class LiveBalances(Mapping[str, Balance]):
    """A read-only view of the balance cache's latest snapshot, shared by every bot's context.

    Reading goes through to whatever the cache holds now, so a refresh reaches every strategy
    without copying anything into each context.
    """

    __slots__ = ("_source",)

    def __init__(self, source: Callable[[], Mapping[str, Balance]]) -> None:
        self._source = source

    def __getitem__(self, currency: str) -> Balance:
        return self._source()[currency]

    def __iter__(self) -> Iterator[str]:
        return iter(self._source())

    def __len__(self) -> int:
        return len(self._source())


# What a bot's ``holding`` and entry depend on: assigning any of them tells the context's watcher.
_WATCHED = frozenset({"position", "last_fill_price", "min_base"})


def _recent_fills() -> deque[Fill]:
    return deque(maxlen=RECENT_FILLS)


@dataclass(slots=True)
class BotContext:
    """A bot's own state as its strategy sees it. The platform updates it; the strategy only reads.

    Nothing here is copied per tick: ``balances`` reads through to the balance cache, and
    every fill is booked through ``record_fill``, at start-up and as it lands.
    """

    bot_id: BotId
    product_id: ProductId
    budget: Decimal
    position: Position = field(default_factory=Position)
    order_in_flight: bool = False
    last_fill_price: float = 0.0  # price of the last fill, 0.0 before any
    balances: Mapping[str, Balance] = field(default_factory=_no_balances)  # by currency, from the cache
    recent_fills: deque[Fill] = field(default_factory=_recent_fills)  # oldest first
    params: StrategyParams | None = None
    # The platform's clock: the system's live, the replayed data's in a backtest.
    clock: Clock = field(kw_only=True)
    # Without one given, a context gets a hub of its own: correct, but shares nothing.
    hub: IndicatorHub = field(default_factory=IndicatorHub)
    # Below this (the product's minimum order size) what is held is dust that cannot be sold.
    min_base: Decimal = _ZERO
    # Told whenever what decides ``holding`` or the entry changes (set with ``watch``): the
    # evaluator's group of identical bots keeps this bot in a price index and files it again only
    # then, instead of reading every bot's position on every tick. One watcher: a bot runs in one
    # group at a time.
    watcher: Callable[[], None] | None = field(default=None, kw_only=True, repr=False, compare=False)
    # Held while a fill is stored and booked here, and while the position is rebuilt from the
    # stored fills: a rebuild that read the fills before one was stored, and reset the position
    # after it was booked, would lose it (and the bot would sell what it already sold).
    booking: asyncio.Lock = field(default_factory=asyncio.Lock, kw_only=True, repr=False, compare=False)

    def watch(self, watcher: Callable[[], None] | None) -> None:
        """Tell ``watcher`` of every assignment of the position, the last fill price or the
        minimum (None: stop telling). Only a watched context pays for the telling: it becomes a
        ``WatchedContext``, whose every assignment is a Python call (a few hundred ns), and an
        unwatched one assigns as a plain slotted object does."""
        object.__setattr__(self, "watcher", watcher)
        object.__setattr__(self, "__class__", BotContext if watcher is None else WatchedContext)

    def changed(self) -> None:
        """Say that the position was changed in place (``record_fill`` says it itself)."""
        watcher = self.watcher
        if watcher is not None:
            watcher()

    @property
    def holding(self) -> bool:
        """Holding more than dust: a positive base of at least the product's minimum order size."""
        # Two Decimal compares: measured faster than a cache keyed on the Decimals' identity.
        base = self.position.base
        return base > _ZERO and base >= self.min_base

    def now(self) -> float:
        """The time as UNIX seconds, from the platform's clock."""
        return self.clock.time()

    def rebuild(self, fills: Sequence[Fill]) -> None:
        """The position from nothing, ``fills`` (all the bot's, in trade order) booked in turn:
        the same booking as fills that land live. Called under ``booking``."""
        self.position = Position()
        self.recent_fills.clear()
        self.last_fill_price = 0.0
        for fill in fills:
            self.record_fill(fill)

    def has_booked(self, trade_id: str) -> bool:
        """Whether this context booked the fill lately (among its recent fills)."""
        return any(f.trade_id == trade_id for f in self.recent_fills)

    def record_fill(self, fill: Fill) -> None:
        """Book a fill of this bot: its position, its last fill price and its recent fills."""
        self.position.apply_fill(fill.side, fill.size, fill.price * fill.size, fill.commission)
        self.recent_fills.append(fill)
        self.last_fill_price = float(fill.price)  # tells the watcher: the position is booked


class WatchedContext(BotContext):
    """A ``BotContext`` whose watcher hears of each change of what ``holding`` and the entry
    depend on (see ``BotContext.watch``); the same fields, the same behaviour otherwise."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        if name in _WATCHED:
            watcher = self.watcher
            if watcher is not None:
                watcher()


class Strategy(Protocol):
    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None: ...


P = TypeVar("P", bound=StrategyParams)


@dataclass(frozen=True, slots=True)
class ChartLine:
    """An indicator a strategy decides on, as a chart draws it: what the strategy declares (its
    spec's ``chart``), so the lines on a bot's chart are the ones it trades on, with its periods."""

    kind: Literal["ema", "sma", "bollinger", "rsi", "macd"]
    label: str
    params: Mapping[str, float]  # period, deviations, fast/slow/signal
    pane: Literal["price", "oscillator"] = "price"  # on the candles, or in a pane of its own
    levels: tuple[float, ...] = ()  # horizontal lines of an oscillator (RSI's oversold/overbought)


@dataclass(frozen=True)
class StrategySpec(Generic[P]):
    name: str
    description: str
    params_model: type[P]
    factory: Callable[[P], Strategy]
    origin: str = "builtin"  # or the path of the user's file
    # The indicators it decides on, for charts; a user's strategy may declare them the same way.
    chart: Callable[[P], Sequence[ChartLine]] | None = None

    def chart_lines(self, params: Mapping[str, Any]) -> list[ChartLine]:
        """What a bot with ``params`` (as stored) draws; none when the strategy declares nothing."""
        if self.chart is None:
            return []
        return list(self.chart(self.params_model.model_validate(dict(params))))

    def defaults(self) -> dict[str, Any]:
        return {
            name: info.get_default(call_default_factory=True)
            for name, info in self.params_model.model_fields.items()
            if not info.is_required()
        }

    def json_schema(self) -> dict[str, Any]:
        return self.params_model.model_json_schema()


@dataclass(frozen=True, slots=True)
class WarmUpRequest:
    """The closed candles a strategy wants before its first tick."""

    timeframe: Timeframe
    candles: int


def history_needed(strategy: Strategy) -> WarmUpRequest | None:
    """The candles to fetch for ``warm_up_bot``; None when the strategy needs none."""
    hook = getattr(strategy, "history_needed", None)
    if hook is None:
        return None
    request: WarmUpRequest | None = hook()
    return request


def warm_up_bot(strategy: Strategy, ctx: BotContext, candles: Sequence[Candle]) -> None:
    """Seed a bot's indicators from closed candles (oldest first) before its first tick."""
    hook = getattr(strategy, "warm_up", None)
    if hook is not None and candles:
        hook(candles, ctx)


def close_strategy(strategy: Strategy) -> None:
    """Release what the strategy shares (indicator handles); call when its bot stops."""
    hook = getattr(strategy, "close", None)
    if hook is not None:
        hook()
