"""DCA (dollar-cost averaging): buy in slices, on a timer or on each further drop.

Parameters (besides the exits every strategy has):

- ``mode`` ("time"): "time" buys now, then every ``interval_minutes`` (60) of exchange time, so a
  backtest replays the same schedule; "drop" buys now, then each time the price is ``drop_pct``
  (2.0) below the previous buy.
- ``order_pct`` (10): percent of the budget each buy spends; ``max_orders`` (10) buys at most.
- ``take_profit_pct`` (5.0): DCA accumulates and never sells by itself, so its take-profit exit is
  on by default; a cycle starts over once the position is sold.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field

from streambot.domain import Position, Side, Signal, Ticker
from streambot.strategies.base import BotContext, StrategyParams, StrategySpec
from streambot.strategies.search import search


class DcaParams(StrategyParams):
    mode: Literal["time", "drop"] = Field(
        default="time", description="'time': buy on a timer. 'drop': buy on each further drop."
    )
    interval_minutes: float = Field(
        default=60.0, gt=0, le=43_200, description="In time mode, minutes between buys."
    )
    drop_pct: float = Field(
        default=2.0,
        json_schema_extra=search(0.5, 10.0, step=0.25),
        gt=0,
        lt=100,
        description="In drop mode, buy when the price is this % below the last buy.",
    )
    order_pct: Decimal = Field(
        default=Decimal(10), gt=0, le=100, description="Percent of the budget each buy spends."
    )
    max_orders: int = Field(
        default=10, ge=1, le=1000, description="Most buys in one cycle.", json_schema_extra=search(1, 20)
    )
    take_profit_pct: float | None = Field(
        default=5.0,
        gt=0,
        le=1000,
        description="Exit: sell the whole position when the price rises this % above the average entry.",
    )


class Dca:
    __slots__ = (
        "_buys",
        "_cost",
        "_drop_factor",
        "_interval",
        "_next_time",
        "_position",
        "_trigger_price",
        "_was_holding",
        "params",
    )

    def __init__(self, params: DcaParams) -> None:
        self.params = params
        self._interval = params.interval_minutes * 60.0 if params.mode == "time" else 0.0
        self._drop_factor = 1.0 - params.drop_pct / 100.0
        self._buys = 0
        self._next_time = 0.0  # time mode: no buy before this
        self._trigger_price = 0.0  # drop mode: no buy above this
        self._position: Position | None = None
        self._cost: Decimal | None = None
        self._was_holding = False

    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        position = ctx.position
        if position is not self._position or position.cost is not self._cost:
            # A fill changed the position (apply_fill assigns a new cost): only then compare Decimals.
            self._position = position
            self._cost = position.cost
            if ctx.holding:  # dust below the minimum order size is no position
                self._was_holding = True
            elif self._was_holding:
                # The position was sold (take-profit, another exit): a new cycle.
                self._was_holding = False
                self._buys = 0
        buys = self._buys
        if buys:
            if self._interval:
                if tick.time < self._next_time:
                    return None
            elif tick.price > self._trigger_price:
                return None
        if ctx.order_in_flight or buys >= self.params.max_orders:
            return None
        price = tick.price
        if not buys:
            reason = "first buy of the cycle"
        elif self._interval:
            reason = f"{self.params.interval_minutes:g} min since the last buy"
        else:
            last = self._trigger_price / self._drop_factor
            reason = f"price {price:g} is {(1 - price / last) * 100:.2f}% below the last buy {last:g}"
        self._buys = buys + 1
        self._next_time = tick.time + self._interval
        self._trigger_price = price * self._drop_factor
        return Signal(
            Side.BUY,
            f"DCA buy {self._buys} of {self.params.max_orders}: {reason}",
            budget_pct=self.params.order_pct,
        )


SPEC = StrategySpec(
    name="dca",
    description="Dollar-cost averaging: buy a slice on a timer or on each further drop; "
    "sell the lot at the take-profit.",
    params_model=DcaParams,
    factory=Dca,
)
