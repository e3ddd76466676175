"""Threshold: buy below a price, sell above one, in absolute prices or relative moves.

Absolute levels suit a trader with a view on a price; relative moves (a dip from the running
high, a rise over the entry) make the same bot sensible on any product at any price level, which
is what the demo bots use.

Parameters (besides the exits every strategy has):

- ``buy_below``: buy when the price is at or below this price.
- ``buy_dip_pct`` (0.15): buy when the price is this % below its running high.
- ``sell_above``: sell the whole position when the price is at or above this price.
- ``sell_rise_pct`` (3.0): sell the whole position when the price is this % above the entry (the
  last buy's fill price); it must clear the round-trip fee (2 × 1.2 % taker at Coinbase's entry
  tier) or the bot is refused, unless ``allow_below_fee``.
- ``order_pct`` (25): percent of the budget each buy spends.

At least one buy rule and one sell rule must be set. Decides on every tick.
"""

from __future__ import annotations

from collections.abc import Hashable
from decimal import Decimal
from functools import partial

from pydantic import Field, model_validator

from streambot.domain import Side, Signal, Ticker
from streambot.strategies.base import WHOLE_POSITION, BotContext, StrategyParams, StrategySpec
from streambot.strategies.groups import BotGroup
from streambot.strategies.search import search
from streambot.strategies.threshold_index import ThresholdGroup
from streambot.strategies.threshold_levels import (
    buy_below_reason,
    buy_factor,
    dip_reason,
    rise_reason,
    sell_above_reason,
    sell_factor,
)


class ThresholdParams(StrategyParams):
    buy_below: float | None = Field(default=None, gt=0, description="Buy when the price is at or below this.")
    sell_above: float | None = Field(
        default=None, gt=0, description="Sell the position when the price is at or above this."
    )
    buy_dip_pct: float | None = Field(
        default=0.15,
        gt=0,
        le=50,
        json_schema_extra=search(0.05, 5.0, step=0.05),
        description="Buy when the price is this % below its running high.",
    )
    sell_rise_pct: float | None = Field(
        default=3.0,
        json_schema_extra=search(1.0, 10.0, step=0.25),
        gt=0,
        le=500,
        description="Sell when the price is this % above the entry price (above the round-trip fee).",
    )
    order_pct: Decimal = Field(
        default=Decimal(25), gt=0, le=100, description="Percent of the budget each buy spends."
    )

    def take_profits(self) -> list[tuple[str, float]]:
        rises = super().take_profits()
        if self.sell_rise_pct is not None:
            rises.append(("sell_rise_pct", self.sell_rise_pct))
        return rises

    @model_validator(mode="before")
    @classmethod
    def _absolute_levels_replace_relative_defaults(cls, data: object) -> object:
        # A user who names a price level means that level, not that level plus the relative default.
        if isinstance(data, dict):
            data = dict(data)
            if data.get("buy_below") is not None:
                data.setdefault("buy_dip_pct", None)
            if data.get("sell_above") is not None:
                data.setdefault("sell_rise_pct", None)
        return data

    @model_validator(mode="after")
    def _needs_both_sides(self) -> ThresholdParams:
        if self.buy_below is None and self.buy_dip_pct is None:
            raise ValueError("set buy_below or buy_dip_pct: the bot needs a rule to buy")
        if self.sell_above is None and self.sell_rise_pct is None:
            raise ValueError("set sell_above or sell_rise_pct: the bot needs a rule to sell")
        if self.buy_below is not None and self.sell_above is not None and self.buy_below >= self.sell_above:
            raise ValueError("buy_below must be lower than sell_above")
        return self


class Threshold:
    __slots__ = ("_buy_factor", "_high", "_sell_factor", "params")

    def __init__(self, params: ThresholdParams) -> None:
        self.params = params
        self._high = 0.0
        self._buy_factor = buy_factor(params.buy_dip_pct)
        self._sell_factor = sell_factor(params.sell_rise_pct)

    # Reasons are written when read (``Signal.reason``): a burst of decisions formats nothing.
    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        price = tick.price
        params = self.params
        if ctx.holding:
            entry = ctx.last_fill_price
            if params.sell_above is not None and price >= params.sell_above:
                self._high = price
                return Signal(
                    Side.SELL, partial(sell_above_reason, price, params.sell_above), budget_pct=WHOLE_POSITION
                )
            if self._sell_factor and entry and price >= entry * self._sell_factor:
                self._high = price
                return Signal(Side.SELL, partial(rise_reason, price, entry), budget_pct=WHOLE_POSITION)
            return None
        if price > self._high:
            self._high = price
        if params.buy_below is not None and price <= params.buy_below:
            return Signal(
                Side.BUY, partial(buy_below_reason, price, params.buy_below), budget_pct=params.order_pct
            )
        if self._buy_factor and price <= self._high * self._buy_factor:
            return Signal(Side.BUY, partial(dip_reason, price, self._high), budget_pct=params.order_pct)
        return None

    # --- sharing: identical bots on one product are one group (``strategies.groups``) ----------

    def group_key(self) -> Hashable:
        return self.params

    def new_group(self) -> BotGroup:
        return ThresholdGroup(self.params)

    @property
    def high(self) -> float:
        """The running high the dip is measured from (0.0 before the first tick)."""
        return self._high

    @high.setter
    def high(self, value: float) -> None:
        self._high = value


SPEC = StrategySpec(
    name="threshold",
    description="Buy below a price (or on a dip from the running high); sell above a price "
    "(or on a rise over the entry).",
    params_model=ThresholdParams,
    factory=Threshold,
)
