"""Moving-average crossover bots of one parameter set on one product, evaluated as one.

Their averages are the product's shared indicators, and "which average was above at the last
closed bar" is the same for every bot that has seen the same bars, so the group reads the cross
once per bar, on the averages of its own strategy instance; a cross is then each bot's decision on its own
position (a flat bot buys, a holding one sells). A tick without a cross touches no bot.

A bot joins the shared reading only once its own strategy reads the same as the group's (a bot
started a moment ago has not seen a bar yet, as it would not alone): until then it is evaluated by
its own strategy, each tick, and compared after it. A bot leaving takes the group's reading back
into its own strategy, so it carries on alone as if it had never been in a group.
"""

from __future__ import annotations

from typing import Protocol, cast

from streambot.domain import Signal, Ticker
from streambot.strategies.base import BotContext, Strategy
from streambot.strategies.groups import Decide, DecideAll, GroupStats, Member, deciding_each
from streambot.strategies.indicators.hub import CandleFrame, ProductSeries
from streambot.strategies.indicators.talib_stream import StreamIndicator


class _CrossParams(Protocol):
    @property
    def sell_on_cross(self) -> bool: ...


class Crossing(Strategy, Protocol):
    """What the group needs of a crossover strategy (``MovingAverageCrossover``)."""

    @property
    def params(self) -> _CrossParams: ...

    @property
    def was_above(self) -> bool | None: ...

    @was_above.setter
    def was_above(self, value: bool | None) -> None: ...

    def closed_bar(self, tick: Ticker, ctx: BotContext) -> float | None: ...

    def bound(self) -> tuple[ProductSeries, CandleFrame | None] | None: ...

    def averages(self) -> tuple[StreamIndicator[float], StreamIndicator[float]] | None: ...

    def buy_signal(self, final: bool) -> Signal: ...

    def sell_signal(self, final: bool) -> Signal: ...

    def close(self) -> None: ...


class CrossoverGroup(GroupStats):
    __slots__ = (
        "_candles",
        "_ctx",
        "_fast",
        "_joining",
        "_leader",
        "_members",
        "_series",
        "_slow",
        "_started",
        "_was_above",
    )

    def __init__(self, leader: Crossing) -> None:
        super().__init__()
        self._leader = leader  # the group's own instance: it holds the shared indicators
        self._started = False  # the group takes the first member's reading
        # The group's reading: which average was above at the last closed bar (the leader's
        # ``cross``, written out here: read once per tick for all the members, with no call).
        self._was_above: bool | None = None
        self._ctx: BotContext | None = None  # a member's: the leader binds to its product and hub
        self._members: dict[Member, None] = {}  # bots deciding on the leader's reading
        self._joining: dict[Member, None] = {}  # bots still on their own reading
        # What the leader's ``closed_bar`` and ``cross`` read, once it is bound: read here on every
        # tick instead (the product's series, its candles or None on the tick timeframe, the
        # shared averages).
        self._series: ProductSeries | None = None
        self._candles: CandleFrame | None = None
        self._fast: StreamIndicator[float] | None = None
        self._slow: StreamIndicator[float] | None = None

    def add(self, member: Member) -> None:
        own = cast(Crossing, member.strategy)
        if not self._started:
            self._started = True
            self._ctx = member.ctx
            self._was_above = own.was_above
        if own.was_above == self._was_above:
            self._members[member] = None
        else:
            self._joining[member] = None
        self.size = len(self._members) + len(self._joining)

    def remove(self, member: Member) -> None:
        if self._members.pop(member, 0) is None:
            cast(Crossing, member.strategy).was_above = self._was_above
        self._joining.pop(member, None)
        self.size = len(self._members) + len(self._joining)

    def members(self) -> list[Member]:
        return [*self._members, *self._joining]

    def close(self) -> None:
        self._leader.close()
        self._series = self._candles = self._fast = self._slow = None

    def on_tick(self, tick: Ticker, decide: Decide, decide_all: DecideAll | None = None) -> None:
        members = self._members
        leader = self._leader
        series = self._series
        price: float | None
        if series is None:
            price = leader.closed_bar(tick, self._ctx)  # type: ignore[arg-type]  # set by the first add
            bound, averages = leader.bound(), leader.averages()
            if bound is not None and averages is not None:
                self._series, self._candles = bound
                self._fast, self._slow = averages
            else:
                price = None  # not bound: no bar to read (the leader reads none either)
        else:  # the leader's closed_bar, written out
            if series.last_tick is not tick:
                series.on_tick(tick)
            candles = self._candles
            if candles is None:
                price = tick.price
            else:
                closed = candles.just_closed
                price = None if closed is None else closed.close
        cross: bool | None = None
        if price is not None:  # a bar closed: commit the reading (the leader's ``cross``)
            fast, slow = self._fast.value, self._slow.value  # type: ignore[union-attr]  # bound
            if fast is not None and slow is not None:
                above = fast > slow
                was_above = self._was_above
                self._was_above = above
                if was_above is not None and above != was_above:
                    cross = above
        deciding: list[Member] = []
        signal: Signal | None = None
        if cross is not None and members:
            # Who decides on the group's reading is settled before a joining bot may move in.
            if cross:
                signal = leader.buy_signal(True)
                deciding = [member for member in members if not member.ctx.holding]
            elif leader.params.sell_on_cross:
                signal = leader.sell_signal(True)
                deciding = [member for member in members if member.ctx.holding]
        if self._joining:
            self._evaluate_joining(tick, decide)
        if signal is not None and deciding:
            # One immutable Signal for all: the same text, the same size.
            (decide_all or deciding_each(decide))(deciding, signal, tick)

    def _evaluate_joining(self, tick: Ticker, decide: Decide) -> None:
        reading = self._was_above
        for member in tuple(self._joining):
            own = cast(Crossing, member.strategy)
            signal = own.on_tick(tick, member.ctx)
            if signal is not None:
                decide(member, signal, tick)
            if own.was_above == reading and member in self._joining:
                del self._joining[member]
                self._members[member] = None
