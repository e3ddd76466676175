"""Exits for any strategy: stop-loss, take-profit and trailing stop on the bot's position.

One wrapper, applied by ``build`` when the parameters set any exit, so no strategy implements
them. The wrapped strategy still sees every tick (its indicators must stay current); an exit that
fires takes precedence over whatever it decided, and its reason names the exit.

Levels are relative to the position's average entry, fees included, and are recomputed only when
a fill changes the position: ``Position.apply_fill`` assigns a new ``cost`` object, so an identity
check per tick is enough to notice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from functools import partial

from streambot.domain import Position, Side, Signal, Ticker
from streambot.strategies.base import (
    WHOLE_POSITION,
    BotContext,
    Strategy,
    StrategyParams,
    WarmUpRequest,
    close_strategy,
    history_needed,
    warm_up_bot,
)
from streambot.strategies.candles import Candle

_INF = math.inf


def _stop_loss_reason(price: float, entry: float) -> str:
    return f"stop-loss: price {price:g} is {(1 - price / entry) * 100:.2f}% below entry {entry:g}"


def _trailing_reason(price: float, high: float) -> str:
    return (
        f"trailing stop: price {price:g} is {(1 - price / high) * 100:.2f}% below "
        f"the high {high:g} since entry"
    )


def _take_profit_reason(price: float, entry: float) -> str:
    return f"take-profit: price {price:g} is {(price / entry - 1) * 100:.2f}% above entry {entry:g}"


class WithExits:
    __slots__ = (
        "_cost",
        "_entry",
        "_high",
        "_inner",
        "_position",
        "_stop_factor",
        "_stop_price",
        "_take_factor",
        "_take_price",
        "_trail_factor",
        "_trail_price",
        "params",
    )

    def __init__(self, inner: Strategy, params: StrategyParams) -> None:
        self._inner = inner
        self.params = params
        # Fractions, applied as level ± level * fraction: 100 with 10% is then exactly 110.
        self._stop_factor = params.stop_loss_pct / 100.0 if params.stop_loss_pct is not None else 1.0
        self._take_factor = params.take_profit_pct / 100.0 if params.take_profit_pct is not None else _INF
        self._trail_factor = params.trailing_stop_pct / 100.0 if params.trailing_stop_pct is not None else 1.0
        self._position: Position | None = None
        self._cost: Decimal | None = None
        self._entry = 0.0  # 0.0 while flat
        self._high = 0.0
        self._stop_price = 0.0
        self._take_price = _INF
        self._trail_price = 0.0

    @property
    def inner(self) -> Strategy:
        return self._inner

    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        signal = self._inner.on_tick(tick, ctx)
        if ctx.order_in_flight:
            # The executor ignores signals while an order is out; the fill may change the position.
            return signal
        position = ctx.position
        price = tick.price
        if position is not self._position or position.cost is not self._cost:
            self._track(position, price, ctx.last_fill_price, ctx.holding)
        if not self._entry:
            return signal
        if price > self._high:
            self._high = price
            self._trail_price = price - price * self._trail_factor
        # Reasons are written when read (``Signal.reason``): repeated exits format nothing.
        if price <= self._stop_price:
            return Signal(
                Side.SELL, partial(_stop_loss_reason, price, self._entry), budget_pct=WHOLE_POSITION
            )
        if price <= self._trail_price:
            return Signal(Side.SELL, partial(_trailing_reason, price, self._high), budget_pct=WHOLE_POSITION)
        if price >= self._take_price:
            return Signal(
                Side.SELL, partial(_take_profit_reason, price, self._entry), budget_pct=WHOLE_POSITION
            )
        return signal

    def _track(self, position: Position, price: float, last_fill_price: float, holding: bool) -> None:
        self._position = position
        self._cost = position.cost
        if not holding:  # flat, or dust below the minimum order size: nothing an exit could sell
            self._entry = 0.0
            self._high = 0.0
            self._stop_price = self._trail_price = 0.0
            self._take_price = _INF
            return
        opened = not self._entry
        # A position restored without its cost has no average; the last fill is the best guess.
        entry = float(position.average_entry) or last_fill_price
        self._entry = entry
        if not entry:
            return
        self._stop_price = entry - entry * self._stop_factor
        self._take_price = entry + entry * self._take_factor
        if opened:
            self._high = price
            self._trail_price = price - price * self._trail_factor

    # --- optional hooks, passed through ------------------------------------------------------

    def warm_up(self, history: Sequence[Candle], ctx: BotContext) -> None:
        warm_up_bot(self._inner, ctx, history)

    def history_needed(self) -> WarmUpRequest | None:
        return history_needed(self._inner)

    def close(self) -> None:
        close_strategy(self._inner)
