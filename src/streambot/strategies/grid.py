"""Grid: buy a slot each time the price crosses down through a grid line, sell one on the way up.

Parameters (besides the exits every strategy has):

- ``lower``, ``upper``: the outer grid lines, as prices. Leave both unset to centre the grid on the
  first price the bot sees, ``range_pct`` (10.0) either side of it.
- ``levels`` (6): cells between the outer lines (levels + 1 lines, evenly spaced). One step is one
  slot's profit, so it must clear the round-trip fee (the defaults: 20 % / 6 = 3.3 % a step).
- ``order_pct`` (10): percent of the budget each slot buys; at most ``levels`` slots are held.

A sell sells one slot's share of the position (100 / slots held %). A tick that jumps several lines
trades one slot: one order is in flight at a time. The grid starts flat; slots are forgotten when
the position is found flat (closed by an exit, or a buy that never filled).
"""

from __future__ import annotations

import math
from decimal import Decimal

from pydantic import Field, model_validator

from streambot.domain import Side, Signal, Ticker
from streambot.strategies.base import BotContext, StrategyParams, StrategySpec
from streambot.strategies.search import search


class GridParams(StrategyParams):
    lower: float | None = Field(default=None, gt=0, description="Lowest grid line, as a price.")
    upper: float | None = Field(default=None, gt=0, description="Highest grid line, as a price.")
    range_pct: float = Field(
        default=10.0,
        json_schema_extra=search(2.0, 30.0, step=0.5),
        gt=0,
        lt=100,
        description="Without lower/upper: the grid spans this % either side of the first price seen.",
    )
    levels: int = Field(
        default=6,
        ge=2,
        le=200,
        description="Cells between the lowest and highest line.",
        json_schema_extra=search(2, 40),
    )
    order_pct: Decimal = Field(
        default=Decimal(10), gt=0, le=100, description="Percent of the budget each grid buy spends."
    )

    @property
    def step_pct(self) -> float:
        """One grid step as a % rise, at the top of the grid where it is smallest."""
        if self.lower is not None and self.upper is not None:
            step = (self.upper - self.lower) / self.levels
            return step / (self.upper - step) * 100.0
        half = self.range_pct / 100.0
        step = 2.0 * half / self.levels  # in units of the centre price
        return step / (1.0 + half - step) * 100.0

    def take_profits(self) -> list[tuple[str, float]]:
        return [*super().take_profits(), ("levels", self.step_pct)]

    @model_validator(mode="after")
    def _both_bounds_or_neither(self) -> GridParams:
        if (self.lower is None) != (self.upper is None):
            raise ValueError("set both lower and upper, or neither (to centre on the first price)")
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            raise ValueError("lower must be below upper")
        return self


class Grid:
    __slots__ = ("_cell", "_cell_high", "_cell_low", "_lower", "_slots", "_step", "params")

    def __init__(self, params: GridParams) -> None:
        self.params = params
        self._lower = params.lower or 0.0
        self._step = (params.upper - params.lower) / params.levels if params.upper and params.lower else 0.0
        self._cell: int | None = None
        # Price bounds of the current cell: a tick inside them (most ticks) costs two comparisons.
        self._cell_low = math.inf
        self._cell_high = -math.inf
        self._slots = 0

    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        price = tick.price
        if self._cell_low <= price < self._cell_high:
            return None
        return self._crossed(price, ctx)

    def _crossed(self, price: float, ctx: BotContext) -> Signal | None:
        params = self.params
        step = self._step
        if not step:
            half = params.range_pct / 100.0
            self._lower = price * (1.0 - half)
            step = self._step = price * 2.0 * half / params.levels
        levels = params.levels
        cell = math.floor((price - self._lower) / step)
        if cell < -1:
            cell = -1
        elif cell > levels:
            cell = levels
        last = self._cell
        if last is not None and (cell == last or ctx.order_in_flight):
            # Leaving the cell unchanged while an order is out lets a later tick trade the crossing.
            return None
        self._cell = cell
        self._cell_low = self._lower + cell * step if cell >= 0 else -math.inf
        self._cell_high = self._lower + (cell + 1) * step if cell < levels else math.inf
        if last is None:
            return None
        holding = ctx.holding
        if not holding:
            # Slots are what is held: none when flat (closed by an exit, or a buy that never filled).
            self._slots = 0
        if cell < last:
            if self._slots >= levels:
                return None
            self._slots += 1
            line = self._lower + last * step
            return Signal(
                Side.BUY,
                f"grid: price {price:g} crossed down through line {line:g} (slot {self._slots} of {levels})",
                budget_pct=params.order_pct,
            )
        if not holding or not self._slots:
            return None
        share = Decimal(100) / self._slots
        self._slots -= 1
        line = self._lower + (last + 1) * step
        return Signal(
            Side.SELL,
            f"grid: price {price:g} crossed up through line {line:g} ({self._slots} slots left)",
            budget_pct=share,
        )


SPEC = StrategySpec(
    name="grid",
    description="Grid trading: buy a slot each time the price crosses down through a grid line, "
    "sell one each time it crosses up.",
    params_model=GridParams,
    factory=Grid,
)
