"""Threshold bots of one parameter set on one product, kept in sorted price indexes.

A threshold bot decides on a price crossing a level: a flat bot buys when the price falls to its
dip level (its running high × the dip factor) or to ``buy_below``; a holding bot sells when the
price reaches its entry × the rise factor or ``sell_above``. Each bot's level is its own (its high
depends on when it last sold, its entry on its own fill), but only the bots whose level the price
crossed can decide, so the group keeps

- flat bots by running high: a tick above some highs lifts them all to the price, which merges
  those levels into one (Threshold's ``if price > high: high = price``), and the buyers are the
  levels from the top down while ``price <= high * factor``;
- holding bots by sell level (``entry * factor``), the sellers being the levels from the bottom up
  while ``level <= price``.

A tick where nothing crosses costs a few comparisons however many bots there are; the group
publishes the band of such prices (its calm band, ``strategies.groups``), so that the evaluator
skips it with no call at all while nothing was filed again. The arithmetic
is Threshold's own, so each bot decides exactly what its own strategy would have (the unit tests
compare both on random walks). A bot's position changes outside the evaluator (fills land on the
order path): its context's watcher files it again, between ticks or while decisions are handed out.
"""

from __future__ import annotations

import math
from bisect import insort
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Protocol, cast

from streambot.domain import Side, Signal, Ticker
from streambot.strategies.base import WHOLE_POSITION, BotContext
from streambot.strategies.groups import Decide, DecideAll, GroupStats, Member, deciding_each
from streambot.strategies.threshold_levels import (
    buy_below_reason,
    buy_factor,
    dip_reason,
    rise_reason,
    sell_above_reason,
    sell_factor,
)


class _Levels(Protocol):
    """A threshold bot's parameters (``ThresholdParams``)."""

    @property
    def buy_below(self) -> float | None: ...
    @property
    def sell_above(self) -> float | None: ...
    @property
    def buy_dip_pct(self) -> float | None: ...
    @property
    def sell_rise_pct(self) -> float | None: ...
    @property
    def order_pct(self) -> Decimal: ...


class _Running(Protocol):
    """A bot's own threshold strategy: the running high it measures dips from."""

    high: float


_INF = math.inf
_next_below = math.nextafter  # (level, -inf): the largest float below a level


@dataclass(slots=True, eq=False)
class _Entry:
    member: Member
    ctx: BotContext
    high: float
    holding: bool = False
    key: float = 0.0  # where it is filed: its high while flat, its sell level while holding
    level: dict[_Entry, None] = field(default_factory=dict)  # the level it is filed in


class ThresholdGroup(GroupStats):
    __slots__ = (
        "_buy_below",
        "_buy_factor",
        "_dirty",
        "_entries",
        "_flat",
        "_flat_keys",
        "_hold",
        "_hold_keys",
        "_order_pct",
        "_sell_above",
        "_sell_factor",
    )

    def __init__(self, params: _Levels) -> None:
        super().__init__()
        self._buy_below = params.buy_below
        self._sell_above = params.sell_above
        self._order_pct = params.order_pct
        self._buy_factor = buy_factor(params.buy_dip_pct)
        self._sell_factor = sell_factor(params.sell_rise_pct)
        self._entries: dict[Member, _Entry] = {}
        # Bots whose position or entry changed since they were filed: filed again before the
        # next tick is scanned, once however many changes (a fill sets position and price).
        self._dirty: dict[_Entry, None] = {}
        self.changed = self._dirty  # the evaluator's calm band holds only while this is empty
        # Flat bots by running high; the keys are the highs negated, ascending, so the lowest
        # high is last (lifted to the price with pop()) and the highest first (the first to buy).
        self._flat: dict[float, dict[_Entry, None]] = {}
        self._flat_keys: list[float] = []
        # Holding bots by sell level, ascending (inf: no rise rule, or no entry to rise from).
        self._hold: dict[float, dict[_Entry, None]] = {}
        self._hold_keys: list[float] = []

    # --- membership ---------------------------------------------------------------------------

    def add(self, member: Member) -> None:
        strategy = cast(_Running, member.strategy)
        entry = _Entry(member, member.ctx, strategy.high)
        self._entries[member] = entry
        self.size = len(self._entries)
        self._file(entry)
        member.ctx.watch(partial(self._dirty.__setitem__, entry, None))
        self.calm_low = _INF  # worked out again by the next tick

    def remove(self, member: Member) -> None:
        entry = self._entries.pop(member, None)
        if entry is None:
            return
        self.size = len(self._entries)
        self._unfile(entry)
        self._dirty.pop(entry, None)
        self.calm_low = _INF  # worked out again by the next tick
        cast(_Running, member.strategy).high = entry.high  # it carries on alone from here
        ctx = member.ctx
        watcher = ctx.watcher
        if isinstance(watcher, partial) and watcher.args == (entry, None):
            ctx.watch(None)

    def members(self) -> list[Member]:
        return list(self._entries)

    def _file(self, entry: _Entry) -> None:
        ctx = entry.ctx
        entry.holding = holding = ctx.holding
        if holding:
            fill_price = ctx.last_fill_price
            key = fill_price * self._sell_factor if self._sell_factor and fill_price else _INF
            levels, keys, sort_key = self._hold, self._hold_keys, key
        else:
            key = entry.high
            levels, keys, sort_key = self._flat, self._flat_keys, -key
        entry.key = key
        level = levels.get(key)
        if level is None:
            level = levels[key] = {}
            insort(keys, sort_key)
        level[entry] = None
        entry.level = level

    def _unfile(self, entry: _Entry) -> None:
        level = entry.level
        level.pop(entry, None)
        if level:
            return
        key = entry.key
        if entry.holding:
            levels, keys, sort_key = self._hold, self._hold_keys, key
        else:
            levels, keys, sort_key = self._flat, self._flat_keys, -key
        if levels.get(key) is level:
            del levels[key]
            keys.remove(sort_key)

    def _refile(self) -> None:
        dirty = self._dirty
        for entry in dirty:  # filing reads the context only: no watcher fires meanwhile
            self._unfile(entry)
            self._file(entry)
        dirty.clear()

    # --- the tick -----------------------------------------------------------------------------

    def on_tick(self, tick: Ticker, decide: Decide, decide_all: DecideAll | None = None) -> None:
        if self._dirty:
            self._refile()
        price = tick.price
        buy = sell = 0  # 1: every bot of the side (an absolute level); 2: the crossed levels
        keys = self._flat_keys
        if keys:
            if -keys[-1] < price:
                self._lift(price)
            if self._buy_below is not None and price <= self._buy_below:
                buy = 1
            elif self._buy_factor and price <= -keys[0] * self._buy_factor:
                buy = 2
        keys = self._hold_keys
        if keys:
            if self._sell_above is not None and price >= self._sell_above:
                sell = 1
            elif keys[0] <= price:
                sell = 2
        if buy or sell:  # most ticks cross nothing: they cost the comparisons above
            self._decide_crossed(tick, buy, sell, decide_all or deciding_each(decide))
        self._calm()

    def _calm(self) -> None:
        """The prices at which ``on_tick`` would neither lift a high nor decide, as it is filed
        now: the same comparisons as ``on_tick``'s, turned around (a bot decided this tick was
        filed again meanwhile, or is in ``changed``, which the band holds only without)."""
        low, high = -_INF, _INF
        keys = self._flat_keys
        if keys:
            high = -keys[-1]  # above the lowest high, that high is lifted
            if self._buy_below is not None:
                low = self._buy_below
            if self._buy_factor:
                dip = -keys[0] * self._buy_factor
                if dip > low:
                    low = dip
        keys = self._hold_keys
        if keys:
            below = _next_below(keys[0], -_INF)  # at the lowest sell level, it sells
            if below < high:
                high = below
            if self._sell_above is not None:
                below = _next_below(self._sell_above, -_INF)
                if below < high:
                    high = below
        self.calm_low = low
        self.calm_high = high

    def _decide_crossed(self, tick: Ticker, buy: int, sell: int, decide_all: DecideAll) -> None:
        price = tick.price
        # Each decision once with the bots that take it, in order: no pair made per decision.
        out: list[tuple[Signal, list[Member]]] = []
        # Mode 1 is only ever chosen with the absolute level set.
        buy_below, sell_above = self._buy_below or 0.0, self._sell_above or 0.0
        if buy == 1:
            signal = Signal(Side.BUY, partial(buy_below_reason, price, buy_below), budget_pct=self._order_pct)
            out.append((signal, [entry.member for level in self._flat.values() for entry in level]))
        elif buy == 2:
            factor, flat = self._buy_factor, self._flat
            for negated in self._flat_keys:
                high = -negated
                if not price <= high * factor:
                    break
                signal = Signal(Side.BUY, partial(dip_reason, price, high), budget_pct=self._order_pct)
                out.append((signal, [entry.member for entry in flat[high]]))
        if sell == 1:
            signal = Signal(
                Side.SELL, partial(sell_above_reason, price, sell_above), budget_pct=WHOLE_POSITION
            )
            members: list[Member] = []
            for level in self._hold.values():
                for entry in level:
                    entry.high = price
                    members.append(entry.member)
            out.append((signal, members))
        elif sell == 2:
            hold = self._hold
            signal_entry = -1.0
            selling: list[Member] = []
            for key in self._hold_keys:
                if not key <= price:
                    break
                for entry in hold[key]:
                    entry.high = price
                    fill_price = entry.ctx.last_fill_price
                    if fill_price != signal_entry:  # bots of one level mostly share their entry
                        signal_entry = fill_price
                        signal = Signal(
                            Side.SELL, partial(rise_reason, price, fill_price), budget_pct=WHOLE_POSITION
                        )
                        selling = []
                        out.append((signal, selling))
                    selling.append(entry.member)
        # Handed out after the scan: a fill booked at once (a watcher call) refiles its bot, and
        # must not move it under the loops above. In level order (the deepest dips, the lowest
        # sell levels first), not sorted by bot: sorting a burst of hundreds cost more than
        # deciding them, and each decision is its bot's own whatever the order.
        for signal, deciding in out:
            decide_all(deciding, signal, tick)

    def _lift(self, price: float) -> None:
        """Every flat bot whose high is below ``price`` now has ``price`` as its high."""
        keys, flat = self._flat_keys, self._flat
        lifted: dict[_Entry, None] = {}
        while keys and -keys[-1] < price:
            lifted.update(flat.pop(-keys.pop()))
        for entry in lifted:
            entry.high = entry.key = price
            entry.level = lifted
        level = flat.get(price)
        if level is None:
            flat[price] = lifted
            keys.append(-price)  # every high left is at or above the price: it is the lowest
        else:
            level.update(lifted)
            for entry in lifted:
                entry.level = level
