"""Bots that share a strategy, its parameters and a product, evaluated as one group.

A thousand bots typically run a couple of dozen parameter sets. What is the same for all of a
set's bots on one product (the indicators, the strategy's reading of the market) is worked out
once per tick by the group; what is each bot's own (its position, its entry, its budget, whether
an order of it is out, its risk checks and its decision) stays its own. A strategy opts in with
two methods:

- ``group_key() -> Hashable | None``: equal keys (with the strategy's class, the product and the
  indicator hub) may share a group; None keeps the bot on its own.
- ``new_group() -> BotGroup``: the group for that key.

A group must decide, for each of its bots, exactly what the bot's own strategy would have on
that tick (the unit tests compare them), and hand a bot's state back to its strategy when the bot
leaves (stopped, removed, switched to polling), so it carries on from there alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Hashable, Sequence
from typing import Protocol

from streambot.domain import Signal, Ticker
from streambot.strategies.base import BotContext, Strategy


class Member(Protocol):
    """A running bot as a group sees it (the evaluator's ``BotRuntime``)."""

    ctx: BotContext
    strategy: Strategy


Decide = Callable[[Member, Signal, Ticker], None]
"""Hands one bot's decision on to the evaluator (and so to the executor)."""

DecideAll = Callable[[Sequence[Member], Signal, Ticker], None]
"""Hands one decision of several bots on, in their order, in one call: a burst of hundreds of
decisions on one tick then costs no call (and no pair) per decision. What the evaluator passes
besides ``Decide``."""


def deciding_each(decide: Decide) -> DecideAll:
    """``DecideAll`` by way of ``decide``, one call per bot: for a caller with no batch."""

    def decide_all(members: Sequence[Member], signal: Signal, tick: Ticker) -> None:
        for member in members:
            decide(member, signal, tick)

    return decide_all


class BotGroup(Protocol):
    size: int  # its bots: kept as a count
    timed: int  # sampled ticks whose evaluation was timed
    eval_ns_total: int
    # The calm band: while nothing in ``changed`` waits to be filed again, a tick priced in
    # ``calm_low < price <= calm_high`` decides nothing and changes nothing here, so the evaluator
    # need not call ``on_tick`` for it. A group that cannot tell leaves it empty (inf, -inf).
    calm_low: float
    calm_high: float
    changed: Collection[object]

    def add(self, member: Member) -> None: ...

    def remove(self, member: Member) -> None:
        """Take the bot out and write the state it had here back into its strategy."""
        ...

    def members(self) -> list[Member]: ...

    def on_tick(self, tick: Ticker, decide: Decide, decide_all: DecideAll | None = None) -> None:
        """Decide for the bots the tick concerns: one by one through ``decide``, or several at once
        through ``decide_all`` (given: the same as calling ``decide`` for each, in order)."""
        ...

    def close(self) -> None:
        """The last bot left: release what the group holds (its shared indicator handles)."""
        ...


_NOTHING_CHANGED: tuple[object, ...] = ()


class GroupStats:
    """The counters every group keeps, for the evaluator's figures, and an empty calm band."""

    __slots__ = ("calm_high", "calm_low", "changed", "eval_ns_total", "size", "timed")

    def __init__(self) -> None:
        self.size = 0
        self.timed = 0
        self.eval_ns_total = 0
        self.calm_low = math.inf
        self.calm_high = -math.inf
        self.changed: Collection[object] = _NOTHING_CHANGED

    def close(self) -> None:
        return None


def group_of(strategy: Strategy) -> tuple[Hashable, Callable[[], BotGroup]] | None:
    """The strategy's group key and group factory; None when it runs on its own."""
    key_of = getattr(strategy, "group_key", None)
    if key_of is None:
        return None
    key = key_of()
    if key is None:
        return None
    factory: Callable[[], BotGroup] = strategy.new_group  # type: ignore[attr-defined]
    return (type(strategy), key), factory
