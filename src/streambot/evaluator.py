"""StreamingEvaluator: every tick evaluates every running bot on that tick's product.

The hot path here is synchronous on purpose: no await, no I/O, no INFO logging. A decision is
handed to ``on_signal`` (the executor), which schedules the slow work elsewhere.

Bots that share a strategy, its parameters and a product are evaluated as one group when the
strategy offers one (``strategies.groups``): what is the same for all of them is worked out once,
and each still gets its own decision on its own position.

A bot whose streaming is switched off is evaluated by the polling loop instead: every few seconds
on its product's latest price (the old system's "legacy" mode, kept as the fallback users know).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import cast

from streambot.bus import Bus, PriceBoard, TickMailbox
from streambot.clock import Clock
from streambot.domain import BotId, BotState, ProductId, Signal, Ticker
from streambot.observability.latency import LatencyStats
from streambot.strategies.base import BotContext, Strategy
from streambot.strategies.groups import BotGroup, Decide, DecideAll, group_of
from streambot.strategies.indicators.hub import IndicatorHub, ProductSeries

log = logging.getLogger(__name__)

_perf_ns = time.perf_counter_ns
_SAMPLE_EVERY = 16  # each product's every 16th tick is timed: its tick count & _SAMPLE_MASK is 0
_SAMPLE_MASK = _SAMPLE_EVERY - 1


@dataclass(slots=True, eq=False)
class BotRuntime:
    """A running bot in memory: its strategy instance, context and live figures. Equal only to
    itself (a group files it by identity)."""

    bot_id: BotId
    name: str
    strategy_name: str
    strategy: Strategy
    ctx: BotContext
    state: BotState = BotState.RUNNING
    streaming: bool = True  # False: evaluated by the polling loop on the latest price
    error_reason: str = ""
    # Evaluated on its own; in a group its evaluations are its stream's ticks since it joined.
    solo_evaluations: int = 0
    timed: int = 0  # evaluations whose duration was measured (a sample)
    eval_ns_total: int = 0
    last_eval_ns: int = 0
    last_signal: Signal | None = None
    last_signal_at: float = 0.0  # UNIX seconds on the platform's clock
    signals: int = 0
    latency: LatencyStats = field(default_factory=lambda: LatencyStats(256))
    # The group it is evaluated in, the stream whose ticks it is evaluated on there, and that
    # stream's tick count when it joined.
    group: BotGroup | None = field(default=None, repr=False)
    stream: _Stream | None = field(default=None, repr=False)
    joined_at: int = 0

    @property
    def product_id(self) -> ProductId:
        return self.ctx.product_id

    @property
    def evaluations(self) -> int:
        stream = self.stream
        if stream is None:
            return self.solo_evaluations
        return self.solo_evaluations + stream.ticks - self.joined_at

    @property
    def mean_eval_us(self) -> float:
        group = self.group
        if group is not None and group.timed:
            # Its share of the group's evaluation: what it costs to have this bot in the group.
            return group.eval_ns_total / group.timed / max(1, group.size) / 1000.0
        return self.eval_ns_total / self.timed / 1000.0 if self.timed else 0.0

    def _leave_group(self) -> None:
        stream = self.stream
        if stream is not None:
            self.solo_evaluations += stream.ticks - self.joined_at
        self.group = self.stream = None


SignalHandler = Callable[[BotRuntime, Signal, Ticker], None]
ErrorHandler = Callable[[BotRuntime, BaseException], None]


@dataclass(slots=True)
class _Stream:
    """The running streaming bots of one product: those evaluated alone and the groups. Tuples
    rebuilt when a bot comes or goes, so a tick iterates them as they are even while a failing
    bot is taken out.

    Its counters are what a tick needs to count: every bot evaluated on each tick, the
    evaluations are ``count`` per tick, summed up to here whenever ``count`` changes (``fold``)."""

    alone: tuple[BotRuntime, ...] = ()
    groups: tuple[BotGroup, ...] = ()
    by_key: dict[Hashable, BotGroup] = field(default_factory=dict)
    count: int = 0  # bots, alone and in groups
    ticks: int = 0  # ticks evaluated
    folded: int = 0  # evaluations up to tick ``since``
    since: int = 0
    # The product's indicator series once it has one (a series stays for its hub's life).
    series: ProductSeries | None = None

    def __bool__(self) -> bool:
        return self.count > 0

    def fold(self) -> None:
        """Count the evaluations so far, before ``count`` changes."""
        ticks = self.ticks
        self.folded += self.count * (ticks - self.since)
        self.since = ticks

    @property
    def evaluations(self) -> int:
        return self.folded + self.count * (self.ticks - self.since)


class StreamingEvaluator:
    def __init__(
        self,
        bus: Bus,
        on_signal: SignalHandler,
        on_error: ErrorHandler = lambda bot, exc: None,  # the bot is out already; log only
        hub: IndicatorHub | None = None,
        *,
        prices: PriceBoard,
        clock: Clock,
        latency: LatencyStats | None = None,
    ) -> None:
        self._bus = bus
        self._prices = prices
        self._clock = clock
        # The shared indicators of this tick stream. Advancing the tick's product here, once,
        # keeps indicator work per tick the same for one bot or a thousand sharing a handle.
        self._hub = hub if hub is not None else IndicatorHub()
        # Each product's series, for advancing it once per tick before the bots: looked up when
        # the product's first bot comes, and told by the hub when a strategy makes it later.
        self._series_of = self._hub.lookup()
        self._hub.watch(self._series_made)
        self._on_signal = on_signal
        self._on_error = on_error
        self._by_product: dict[ProductId, _Stream] = {}
        self._bots: dict[BotId, BotRuntime] = {}
        self._polled: dict[BotId, BotRuntime] = {}
        self._mailbox: TickMailbox | None = None
        # Tick received → decisions handed on, per tick. A replay passes one that records nothing
        # (``NoLatency``): its ticks carry no receive time, so the figure would mean nothing, and
        # neither would each bot's own (``BotRuntime.latency``): it records none then either.
        self._latency = LatencyStats()
        self._append_latency: Callable[[int], None] | None = None
        self.tick_to_decision = latency if latency is not None else LatencyStats()
        # Ticks and evaluations are counted by each product's stream (one addition per tick);
        # here: the ticks of products without bots, what streams since gone counted, and
        # evaluations counted that failed (the bot raised on that tick) or were polled.
        self._idle_ticks = 0
        self._gone_ticks = 0
        self._gone_evaluations = 0
        self._failed_evaluations = 0
        self._polled_evaluations = 0
        self.signals = 0  # decisions handed on, since start
        self._now: float | None = None  # the clock's time in this round of evaluation, once read
        # What groups hand their decisions to: they hand back the runtimes they were given.
        self._decide = cast(Decide, self._decided)
        self._decide_all = cast(DecideAll, self._decided_all)
        self.errors = 0

    @property
    def hub(self) -> IndicatorHub:
        return self._hub

    @property
    def ticks_evaluated(self) -> int:
        """Ticks handed to ``evaluate``, with bots on their product or not."""
        return self._idle_ticks + self._gone_ticks + sum(s.ticks for s in self._by_product.values())

    @property
    def evaluations(self) -> int:
        """Bot evaluations since start: streamed (less those that raised) and polled."""
        streamed = self._gone_evaluations + sum(s.evaluations for s in self._by_product.values())
        return streamed - self._failed_evaluations + self._polled_evaluations

    @property
    def tick_to_decision(self) -> LatencyStats:
        return self._latency

    @tick_to_decision.setter
    def tick_to_decision(self, stats: LatencyStats) -> None:
        # The recorder's own list append, held here: one C call per tick, no Python frame
        # (``settle`` folds the samples in, on the sampled ticks).
        self._latency = stats
        self._append_latency = stats.appender()

    # --- bots -------------------------------------------------------------------------------

    def add(self, bot: BotRuntime) -> None:
        self.remove(bot.bot_id)
        self._bots[bot.bot_id] = bot
        if bot.state is BotState.RUNNING:
            self._index(bot)

    def remove(self, bot_id: BotId) -> BotRuntime | None:
        bot = self._bots.pop(bot_id, None)
        if bot is not None:
            self._unindex(bot)
        return bot

    def get(self, bot_id: BotId) -> BotRuntime | None:
        return self._bots.get(bot_id)

    def bots(self) -> list[BotRuntime]:
        return list(self._bots.values())

    def set_streaming(self, bot_id: BotId, streaming: bool) -> BotRuntime | None:
        """Move a running bot between the tick stream and the polling loop."""
        bot = self._bots.get(bot_id)
        if bot is None:
            return None
        self._unindex(bot)
        bot.streaming = streaming
        if bot.state is BotState.RUNNING:
            self._index(bot)
        return bot

    def _index(self, bot: BotRuntime) -> None:
        if not bot.streaming:
            self._polled[bot.bot_id] = bot
            return
        stream = self._by_product.get(bot.product_id)
        if stream is None:
            stream = self._by_product[bot.product_id] = _Stream(series=self._series_of(bot.product_id))
        stream.fold()
        stream.count += 1
        grouping = group_of(bot.strategy)
        if grouping is None:
            stream.alone = (*stream.alone, bot)
            return
        strategy_key, new_group = grouping
        # Identical bots share a group only on one product and one set of shared indicators.
        key = (strategy_key, id(bot.ctx.hub))
        group = stream.by_key.get(key)
        if group is None:
            group = stream.by_key[key] = new_group()
            stream.groups = (*stream.groups, group)
        group.add(bot)
        bot.group, bot.stream, bot.joined_at = group, stream, stream.ticks

    def _series_made(self, series: ProductSeries) -> None:
        stream = self._by_product.get(series.product_id)
        if stream is not None:
            stream.series = series

    def _unindex(self, bot: BotRuntime) -> None:
        if self._polled.pop(bot.bot_id, None) is not None:
            return
        stream = self._by_product.get(bot.product_id)
        if stream is None:
            return
        group = bot.group
        if group is not None:
            group.remove(bot)
            bot._leave_group()
            stream.fold()
            stream.count -= 1
            if not group.size:
                group.close()
                stream.groups = tuple(other for other in stream.groups if other is not group)
                stream.by_key = {key: other for key, other in stream.by_key.items() if other is not group}
        elif bot in stream.alone:
            stream.alone = tuple(other for other in stream.alone if other is not bot)
            stream.fold()
            stream.count -= 1
        if not stream.count:
            self._gone_ticks += stream.ticks
            self._gone_evaluations += stream.folded
            del self._by_product[bot.product_id]

    # --- hot path ---------------------------------------------------------------------------

    def evaluate(self, tick: Ticker) -> int:
        """Run every running bot on ``tick``'s product; returns how many signals came out."""
        stream = self._by_product.get(tick.product_id)
        if stream is None:
            self._idle_ticks += 1
            return 0
        # The tick is counted first: a bot or group joining meanwhile joins after it.
        stream.ticks = ticks = stream.ticks + 1
        self._now = None
        series = stream.series
        if series is not None and series.last_tick is not tick:
            series.on_tick(tick)
        signals = self.signals
        if ticks & _SAMPLE_MASK:
            alone = stream.alone
            if alone:  # most bots are in groups: mostly none, and no iterator made for none
                for bot in alone:
                    try:
                        signal = bot.strategy.on_tick(tick, bot.ctx)
                    except Exception as exc:
                        self._fail(bot, exc)
                        self._failed_evaluations += 1
                        continue
                    bot.solo_evaluations += 1
                    if signal is not None:
                        self._decided(bot, signal, tick)
            price = tick.price
            decide, decide_all = self._decide, self._decide_all
            for group in stream.groups:
                # Priced inside its calm band the group would decide nothing and change nothing:
                # no call (most ticks of a threshold group, whatever its size).
                if group.calm_low < price <= group.calm_high and not group.changed:
                    continue
                try:
                    group.on_tick(tick, decide, decide_all)
                except Exception as exc:
                    self._fail_group(group, exc)
        else:
            self._evaluate_timed(tick, stream)
        # A list append: the figures over all samples are folded in every few thousand. No
        # per-tick log line either, not even its level check: the counters above say as much.
        append = self._append_latency
        if append is not None:
            append(_perf_ns() - tick.received_ns)
        return self.signals - signals

    def _evaluate_timed(self, tick: Ticker, stream: _Stream) -> None:
        """``evaluate``'s loops with each bot's (or group's) evaluation timed. Two clock reads and
        a ring write per bot: on one tick in _SAMPLE_EVERY it is plenty to show each bot's cost.
        Every group is called: its figure is what a call costs."""
        self._latency.settle()  # the samples appended on every tick are folded in once enough
        per_bot = self._append_latency is not None  # a replay's ticks have no receive time
        for bot in stream.alone:
            started = _perf_ns()
            try:
                signal = bot.strategy.on_tick(tick, bot.ctx)
            except Exception as exc:
                self._fail(bot, exc)
                self._failed_evaluations += 1
                continue
            finished = _perf_ns()
            bot.solo_evaluations += 1
            bot.timed += 1
            bot.eval_ns_total += finished - started
            bot.last_eval_ns = finished - started
            if per_bot:
                bot.latency.record(finished - tick.received_ns)
            if signal is not None:
                self._decided(bot, signal, tick)
        decide, decide_all = self._decide, self._decide_all
        for group in stream.groups:
            started = _perf_ns()
            try:
                group.on_tick(tick, decide, decide_all)
            except Exception as exc:
                self._fail_group(group, exc)
                continue
            group.timed += 1
            group.eval_ns_total += _perf_ns() - started  # decisions handed on included

    def poll(self) -> int:
        """Evaluate every polled bot once on its product's latest price; returns the signals."""
        decisions = 0
        self._now = None
        latest = self._prices.latest
        for bot in tuple(self._polled.values()):
            tick = latest.get(bot.product_id)
            if tick is None:
                continue  # no price yet for this product: nothing to decide on
            try:
                signal = bot.strategy.on_tick(tick, bot.ctx)
            except Exception as exc:
                self._fail(bot, exc)
                continue
            bot.solo_evaluations += 1
            self._polled_evaluations += 1
            if signal is not None:
                decisions += 1
                self._decided(bot, signal, tick)
        return decisions

    def _decided(self, bot: BotRuntime, signal: Signal, tick: Ticker) -> None:
        self.signals += 1
        bot.last_signal = signal
        # One clock read per round, not per decision: a burst of hundreds shares one instant.
        now = self._now
        if now is None:
            now = self._now = self._clock.time()
        bot.last_signal_at = now
        bot.signals += 1
        self._on_signal(bot, signal, tick)

    def _decided_all(self, bots: Sequence[BotRuntime], signal: Signal, tick: Ticker) -> None:
        """``_decided`` for each of ``bots``, in order: a burst of hundreds makes no call per
        decision here, and reads the clock and the handler once."""
        now = self._now
        if now is None:
            now = self._now = self._clock.time()
        on_signal = self._on_signal
        handed = 0
        try:
            for bot in bots:
                handed += 1
                bot.last_signal = signal
                bot.last_signal_at = now
                bot.signals += 1
                on_signal(bot, signal, tick)
        finally:
            self.signals += handed  # as _decided counts: a decision whose handler raised too

    def _fail_group(self, group: BotGroup, exc: BaseException) -> None:
        """What the group works out once is every member's: when it raises, each is out. The
        tick it raised on, counted already, is no evaluation of theirs."""
        for member in group.members():
            bot = cast(BotRuntime, member)
            self._fail(bot, exc)
            bot.solo_evaluations -= 1
            self._failed_evaluations += 1

    def _fail(self, bot: BotRuntime, exc: BaseException) -> None:
        self.errors += 1
        bot.state = BotState.ERROR
        bot.error_reason = f"{type(exc).__name__}: {exc}"
        self._unindex(bot)
        log.error("❌ Bot %s (%s) stopped: its strategy raised %s", bot.bot_id, bot.name, bot.error_reason)
        self._on_error(bot, exc)

    # --- loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Consume the bus's latest-wins mailbox until cancelled."""
        self._mailbox = mailbox = self._bus.tick_mailbox("evaluator", urgent=True)
        try:
            while True:
                # get() returns without suspending while ticks are pending; at most one per product
                # can be, so this never starves the feed for longer than one round of products.
                self.evaluate(await mailbox.get())
        finally:
            self._bus.remove_mailbox(mailbox)

    async def run_polling(self, interval: float = 5.0) -> None:
        """The legacy loop: bots with streaming off decide every ``interval`` seconds."""
        while True:
            await self._clock.sleep(interval)
            self.poll()

    @property
    def mailbox(self) -> TickMailbox | None:
        return self._mailbox

    @property
    def skipped_ticks(self) -> int:
        return self._mailbox.skipped if self._mailbox is not None else 0
