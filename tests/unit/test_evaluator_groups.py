"""Identical bots evaluated as one group: each still decides on its own position, and every
decision is the one the bot's own strategy would have taken alone (compared on random walks)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from streambot.bus import InProcessBus, PriceBoard
from streambot.clock import ManualClock
from streambot.domain import BotId, Position, Side, Signal, Ticker, to_decimal
from streambot.evaluator import BotRuntime, StreamingEvaluator
from streambot.observability.latency import NoLatency
from streambot.strategies.base import BotContext, Strategy
from streambot.strategies.ema_crossover import EmaCrossover
from streambot.strategies.registry import build, validate_params
from streambot.strategies.threshold import Threshold, ThresholdParams
from streambot.strategies.threshold_index import ThresholdGroup

PRODUCT = "BTC-USD"
T0 = 1_800_000_000.0


def ticker(price: float, at: float = T0, seq: int = 0) -> Ticker:
    return Ticker(
        product_id=PRODUCT,
        price=price,
        best_bid=price - 0.01,
        best_ask=price + 0.01,
        volume_24h=1000.0,
        low_24h=price * 0.9,
        high_24h=price * 1.1,
        price_change_pct_24h=0.5,
        time=at,
        received_ns=0,
        sequence=seq,
    )


class Alone:
    """The same strategy with no group to join: the plain loop's evaluation, as reference."""

    def __init__(self, inner: Strategy) -> None:
        self.inner = inner

    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        return self.inner.on_tick(tick, ctx)


def fill(ctx: BotContext, side: Side, price: float) -> None:
    """What a fill does to a bot's context (as the benchmark's stand-in executor does)."""
    ctx.position = Position(base=Decimal(1), cost=to_decimal(price)) if side is Side.BUY else Position()
    ctx.last_fill_price = price


class World:
    """An evaluator, its bots and their orders, filled at once or a few ticks later."""

    def __init__(self, plain: bool, seed: int) -> None:
        self.plain = plain
        self.seed = seed
        self.clock = ManualClock()
        self.evaluator = StreamingEvaluator(
            InProcessBus(self.clock),
            self._decided,
            prices=PriceBoard(),
            clock=self.clock,
            latency=NoLatency(),
        )
        # The frames exist before the first tick: a frame created while a tick is being evaluated
        # misses that tick, so which bot binds first would matter, and the two worlds evaluate
        # their bots in different orders (alone first, then the groups).
        for timeframe in ("tick", "1m"):
            self.evaluator.hub.frame(PRODUCT, timeframe)
        self.contexts: dict[int, BotContext] = {}
        self.specs: dict[int, tuple[str, dict[str, Any]]] = {}
        self.pending: dict[int, tuple[int, Side, float]] = {}  # bot → (tick it fills at, side, price)
        self.tick_index = 0
        self.decisions: list[tuple[int, str, str]] = []

    def strategy(self, name: str, params: dict[str, Any]) -> Strategy:
        built = build(name, params)
        return Alone(built) if self.plain else built

    def start(self, bot_id: int, name: str | None = None, params: dict[str, Any] | None = None) -> None:
        if name is not None:
            self.specs[bot_id] = (name, params or {})
        name, params = self.specs[bot_id]
        ctx = self.contexts.get(bot_id)
        if ctx is None:
            ctx = self.contexts[bot_id] = BotContext(
                bot_id=BotId(bot_id),
                product_id=PRODUCT,
                budget=Decimal(1000),
                hub=self.evaluator.hub,
                clock=self.clock,
            )
        ctx.params = validate_params(name, params)
        self.evaluator.add(BotRuntime(BotId(bot_id), f"bot{bot_id}", name, self.strategy(name, params), ctx))

    def stop(self, bot_id: int) -> None:
        self.evaluator.remove(BotId(bot_id))

    def _decided(self, bot: BotRuntime, signal: Signal, tick: Ticker) -> None:
        self.decisions.append((bot.bot_id, signal.side.value, signal.reason))
        ctx = bot.ctx
        if ctx.order_in_flight:
            return  # the executor ignores signals while an order is out
        # The same draw in both worlds: they must take the same decisions to get the same fills.
        draw = random.Random(f"{self.seed}-{self.tick_index}-{bot.bot_id}").random()
        if draw < 0.6:
            fill(ctx, signal.side, tick.price)
        else:
            ctx.order_in_flight = True
            self.pending[bot.bot_id] = (self.tick_index + 1 + int(draw * 10) % 3, signal.side, tick.price)

    def tick(self, tick: Ticker) -> list[tuple[int, str, str]]:
        for bot_id, (due, side, price) in list(self.pending.items()):
            if due <= self.tick_index:
                del self.pending[bot_id]
                ctx = self.contexts[bot_id]
                ctx.order_in_flight = False
                fill(ctx, side, price)
        self.decisions = []
        self.evaluator.evaluate(tick)
        self.tick_index += 1
        return sorted(self.decisions)


THRESHOLDS: Sequence[dict[str, Any]] = (
    {"buy_dip_pct": 0.05, "sell_rise_pct": 0.1},
    {"buy_dip_pct": 0.08, "sell_rise_pct": 0.1},
    {"buy_below": 99.9, "sell_rise_pct": 0.2},
    {"buy_dip_pct": 0.1, "sell_above": 100.3},
    {"buy_below": 99.8, "sell_above": 100.2},
    {"buy_dip_pct": 0.05, "sell_rise_pct": 0.1, "stop_loss_pct": 0.3},  # exits: evaluated alone
)
CROSSOVERS: Sequence[dict[str, Any]] = (
    {"fast": 3, "slow": 8},
    {"fast": 4, "slow": 10, "sell_on_cross": False},
    {"fast": 3, "slow": 8, "timeframe": "1m"},
    {"fast": 3, "slow": 8, "timeframe": "1m", "act_on": "tick"},  # intra-candle: evaluated alone
)


def random_bot(rng: random.Random) -> tuple[str, dict[str, Any]]:
    if rng.random() < 0.6:
        return "threshold", dict(rng.choice(THRESHOLDS))
    return "ema_crossover", dict(rng.choice(CROSSOVERS))


@pytest.mark.parametrize("seed", range(8))
def test_grouped_bots_decide_exactly_as_each_bot_alone_through_starts_stops_and_fills(seed: int) -> None:
    rng = random.Random(seed)
    grouped, plain = World(False, seed), World(True, seed)
    worlds = (grouped, plain)
    for bot_id in range(1, 41):
        name, params = random_bot(rng)
        for world in worlds:
            world.start(bot_id, name, params)
    next_id = 41
    price, at = 100.0, T0
    decided = 0
    for i in range(1500):
        price = round(price * (1 + rng.gauss(0, 0.0006)), 2)
        at += rng.uniform(0.5, 6.0)  # candles of one minute close every dozen ticks or so
        roll = rng.random()
        if roll < 0.02:  # a new bot, often with the parameters of running ones
            name, params = random_bot(rng)
            for world in worlds:
                world.start(next_id, name, params)
            next_id += 1
        elif roll < 0.04:  # stopped, or started again with a fresh strategy on its old position
            bot_id = rng.randrange(1, next_id)
            running = grouped.evaluator.get(BotId(bot_id)) is not None
            for world in worlds:
                if running:
                    world.stop(bot_id)
                else:
                    world.start(bot_id)
        elif roll < 0.05:  # to the polling loop and back: it leaves its group with its state
            bot_id = rng.randrange(1, next_id)
            for world in worlds:
                world.evaluator.set_streaming(BotId(bot_id), False)
                world.evaluator.set_streaming(BotId(bot_id), True)
        tick = ticker(price, at, i)
        ours, reference = grouped.tick(tick), plain.tick(tick)
        assert ours == reference, f"tick {i} at {price}"
        decided += len(ours)
    assert decided > 300  # the walk crossed plenty of levels, for plenty of bots
    assert grouped.evaluator.evaluations == plain.evaluator.evaluations
    for bot_id in range(1, next_id):
        ours_bot, reference_bot = grouped.evaluator.get(BotId(bot_id)), plain.evaluator.get(BotId(bot_id))
        assert (ours_bot is None) == (reference_bot is None)
        if ours_bot is not None and reference_bot is not None:
            assert ours_bot.signals == reference_bot.signals
            assert ours_bot.evaluations == reference_bot.evaluations
            assert ours_bot.last_signal == reference_bot.last_signal


class CountingThreshold(Threshold):
    __slots__ = ()
    calls = 0

    def on_tick(self, tick: Ticker, ctx: BotContext) -> Signal | None:
        CountingThreshold.calls += 1
        return super().on_tick(tick, ctx)


class CountingCrossover(EmaCrossover):
    __slots__ = ()
    evaluations = 0  # bars read by a bot's own strategy

    def evaluate(self, price: float, final: bool, ctx: BotContext) -> Signal | None:
        CountingCrossover.evaluations += 1
        return super().evaluate(price, final, ctx)


def evaluator_with(strategies: Sequence[Strategy]) -> tuple[StreamingEvaluator, list[tuple[int, Signal]]]:
    decisions: list[tuple[int, Signal]] = []
    clock = ManualClock()

    def decided(bot: BotRuntime, signal: Signal, tick: Ticker) -> None:
        decisions.append((bot.bot_id, signal))
        fill(bot.ctx, signal.side, tick.price)

    evaluator = StreamingEvaluator(InProcessBus(clock), decided, prices=PriceBoard(), clock=clock)
    for i, strategy in enumerate(strategies, start=1):
        ctx = BotContext(
            bot_id=BotId(i), product_id=PRODUCT, budget=Decimal(100), hub=evaluator.hub, clock=clock
        )
        evaluator.add(BotRuntime(BotId(i), f"bot{i}", "x", strategy, ctx))
    return evaluator, decisions


def test_identical_threshold_bots_are_evaluated_once_and_each_gets_its_own_decision() -> None:
    params = ThresholdParams(buy_below=99.0, sell_above=101.0)
    evaluator, decisions = evaluator_with([CountingThreshold(params) for _ in range(5)])
    CountingThreshold.calls = 0
    evaluator.add(  # one of them holds already: it sells where the others buy nothing
        BotRuntime(
            BotId(9),
            "holder",
            "x",
            CountingThreshold(params),
            holder := BotContext(
                bot_id=BotId(9),
                product_id=PRODUCT,
                budget=Decimal(100),
                hub=evaluator.hub,
                clock=ManualClock(),
            ),
        )
    )
    fill(holder, Side.BUY, 95.0)

    evaluator.evaluate(ticker(98.5))
    assert CountingThreshold.calls == 0  # no bot's own strategy ran: the group decided
    assert [(bot, s.side, s.reason) for bot, s in decisions] == [
        (i, Side.BUY, "price 98.5 ≤ buy_below 99") for i in range(1, 6)
    ]
    decisions.clear()
    evaluator.evaluate(ticker(101.5))
    assert sorted(bot for bot, _ in decisions) == [1, 2, 3, 4, 5, 9]
    assert {s.reason for _, s in decisions} == {"price 101.5 ≥ sell_above 101"}
    assert all(evaluator.get(BotId(i)).evaluations == 2 for i in (1, 2, 3, 4, 5, 9))  # type: ignore[union-attr]
    assert evaluator.evaluations == 12


def test_identical_crossover_bots_read_the_cross_once_per_tick() -> None:
    params = validate_params("ema_crossover", {"fast": 2, "slow": 4})
    bots = [CountingCrossover(params) for _ in range(6)]  # type: ignore[arg-type]
    evaluator, decisions = evaluator_with(bots)
    CountingCrossover.evaluations = 0
    prices = [100, 100, 100, 100, 99, 98, 97, 101, 104, 107, 103, 99, 95]
    for price in prices:
        evaluator.evaluate(ticker(price))
    assert CountingCrossover.evaluations == 0  # no bot's own strategy read a bar: the group did
    buys = [bot for bot, s in decisions if s.side is Side.BUY]
    sells = [bot for bot, s in decisions if s.side is Side.SELL]
    assert sorted(buys) == sorted(sells) == [1, 2, 3, 4, 5, 6]
    assert {s.reason for _, s in decisions} == {"EMA2 crossed above EMA4", "EMA2 crossed below EMA4"}


def test_bots_with_different_parameters_are_not_merged() -> None:
    evaluator, decisions = evaluator_with(
        [
            Threshold(ThresholdParams(buy_dip_pct=0.5, sell_rise_pct=3.0)),
            Threshold(ThresholdParams(buy_dip_pct=2.0, sell_rise_pct=3.0)),
        ]
    )
    evaluator.evaluate(ticker(100.0))
    evaluator.evaluate(ticker(99.0))  # 1% under the high: only the 0.5% dip buys
    assert [(bot, s.reason) for bot, s in decisions] == [(1, "price 99 dipped 1.00% below its high 100")]


def test_a_bot_that_leaves_its_group_carries_on_from_the_state_it_had_there() -> None:
    params = ThresholdParams(buy_dip_pct=1.0, sell_rise_pct=3.0)
    strategy = Threshold(params)
    evaluator, _ = evaluator_with([strategy, Threshold(params)])
    for price in (100.0, 104.0, 103.5):
        evaluator.evaluate(ticker(price))
    assert strategy.high == 0.0  # in the group, its own strategy was not run
    evaluator.set_streaming(BotId(1), False)  # to the polling loop: out of the group
    assert strategy.high == 104.0
    bot = evaluator.get(BotId(1))
    assert bot is not None
    assert bot.evaluations == 3
    assert bot.group is None


class CountingContext:
    """A context that counts reads of what a bot's levels depend on."""

    def __init__(self, holding: bool, last_fill_price: float) -> None:
        self._holding = holding
        self._last_fill_price = last_fill_price
        self.reads = 0
        self.watcher: Any = None

    def watch(self, watcher: Any) -> None:
        self.watcher = watcher

    @property
    def holding(self) -> bool:
        self.reads += 1
        return self._holding

    @property
    def last_fill_price(self) -> float:
        self.reads += 1
        return self._last_fill_price


class Member:
    def __init__(self, ctx: CountingContext, strategy: Threshold) -> None:
        self.ctx = ctx
        self.strategy = strategy


def test_the_price_index_visits_only_the_bots_whose_level_the_price_crossed() -> None:
    params = ThresholdParams(buy_dip_pct=1.0, sell_rise_pct=5.0)
    group = ThresholdGroup(params)
    holders = [Member(CountingContext(True, 100.0 + i), Threshold(params)) for i in range(50)]
    flat = []
    for i in range(50):
        strategy = Threshold(params)
        strategy.high = 100.0 + i  # fifty different running highs
        flat.append(Member(CountingContext(False, 0.0), strategy))
    for member in holders + flat:
        group.add(member)  # type: ignore[arg-type]
    for member in holders + flat:
        member.ctx.reads = 0
    decided: list[tuple[Member, Signal]] = []

    # 106.0 reaches one sell level (entry 100 × 1.05); it is a 1% dip for the highs of 108 and up.
    group.on_tick(ticker(106.0), lambda m, s, t: decided.append((m, s)))  # type: ignore[arg-type]
    sellers = [m for m, s in decided if s.side is Side.SELL]
    buyers = [m for m, s in decided if s.side is Side.BUY]
    assert sellers == [m for m in holders if (100.0 + holders.index(m)) * 1.05 <= 106.0] == holders[:1]
    assert set(buyers) == {m for m in flat if m.strategy.high * 0.99 >= 106.0}
    assert len(buyers) == 42  # highs 108 to 149
    assert all(m.ctx.reads == 1 for m in sellers)  # its entry, for the reason
    assert all(m.ctx.reads == 0 for m in holders + flat if m not in sellers)  # not looked at
    # The flat bots whose high was below 106 now have 106 as their high (as Threshold's own).
    group.remove(flat[0])  # type: ignore[arg-type]
    assert flat[0].strategy.high == 106.0


def test_reasons_are_written_when_read_with_the_same_text() -> None:
    strategy = Threshold(ThresholdParams(buy_dip_pct=0.5, sell_rise_pct=3.0))
    ctx = BotContext(bot_id=BotId(1), product_id=PRODUCT, budget=Decimal(100), clock=ManualClock())
    strategy.on_tick(ticker(200.0), ctx)
    buy = strategy.on_tick(ticker(198.7), ctx)
    assert buy is not None
    assert not isinstance(buy.why, str)  # not formatted yet
    assert buy.reason == f"price {198.7:g} dipped {(1 - 198.7 / 200.0) * 100:.2f}% below its high {200.0:g}"
    assert isinstance(buy.why, str)  # written once, then kept
    assert buy == Signal(Side.BUY, buy.reason, budget_pct=Decimal(25))
    fill(ctx, Side.BUY, 198.7)
    sell = strategy.on_tick(ticker(205.0), ctx)
    assert sell is not None
    assert sell == Signal(Side.SELL, "price 205 is 3.17% above entry 198.7", budget_pct=Decimal(100))


def _replay_and_live_evaluators(clock: ManualClock) -> tuple[StreamingEvaluator, StreamingEvaluator]:
    """An evaluator as a replay builds it (a recorder that keeps nothing) and one as live does."""
    quiet = StreamingEvaluator(
        InProcessBus(clock), lambda *_: None, prices=PriceBoard(), clock=clock, latency=NoLatency()
    )
    live = StreamingEvaluator(InProcessBus(clock), lambda *_: None, prices=PriceBoard(), clock=clock)
    return quiet, live


def test_an_evaluator_given_a_recorder_that_keeps_nothing_records_no_latency() -> None:
    clock = ManualClock()
    quiet, live = _replay_and_live_evaluators(clock)
    for evaluator in (quiet, live):
        ctx = BotContext(
            bot_id=BotId(1), product_id=PRODUCT, budget=Decimal(100), hub=evaluator.hub, clock=clock
        )
        evaluator.add(BotRuntime(BotId(1), "bot", "threshold", Threshold(ThresholdParams()), ctx))
        evaluator.evaluate(ticker(100.0))
    assert quiet.tick_to_decision.count == 0
    assert quiet.tick_to_decision.summary()["count"] == 0
    assert live.tick_to_decision.count == 1


def test_a_replay_evaluator_records_no_latency_for_its_bots_either() -> None:
    """A replay's ticks carry no receive time (0): a bot's own figure from them would be the
    machine's uptime, so the evaluator's recorder decides for its bots too."""
    clock = ManualClock()
    quiet, live = _replay_and_live_evaluators(clock)
    for evaluator in (quiet, live):
        ctx = BotContext(
            bot_id=BotId(1), product_id=PRODUCT, budget=Decimal(100), hub=evaluator.hub, clock=clock
        )
        alone = Alone(Threshold(ThresholdParams()))  # evaluated on its own: timed each 16th tick
        evaluator.add(BotRuntime(BotId(1), "bot", "threshold", alone, ctx))
        for i in range(40):
            evaluator.evaluate(ticker(100.0 + i % 3))
    assert quiet.get(BotId(1)).latency.count == 0  # type: ignore[union-attr]
    assert live.get(BotId(1)).latency.count == 2  # type: ignore[union-attr]
    assert live.tick_to_decision.count == 40


def test_every_product_has_its_ticks_sampled_while_products_take_turns() -> None:
    """The timed ticks are counted per tick with bots: a product whose ticks come every other
    tick is still timed (and the latency ring folded) however the products interleave."""
    clock = ManualClock()
    evaluator = StreamingEvaluator(InProcessBus(clock), lambda *_: None, prices=PriceBoard(), clock=clock)
    ctx = BotContext(bot_id=BotId(1), product_id=PRODUCT, budget=Decimal(100), hub=evaluator.hub, clock=clock)
    evaluator.add(BotRuntime(BotId(1), "bot", "threshold", Alone(Threshold(ThresholdParams())), ctx))
    other = msgspec.structs.replace(ticker(50.0), product_id="ETH-USD")
    for i in range(64):
        evaluator.evaluate(ticker(100.0 + i % 3))
        evaluator.evaluate(other)  # no bot on it
    assert evaluator.get(BotId(1)).timed == 4  # type: ignore[union-attr]


def test_a_threshold_group_decides_at_its_exact_levels_as_each_bot_alone() -> None:
    """The evaluator skips a threshold group priced inside its calm band: a price exactly at a
    level (a high, a dip level, a sell level, an absolute level) must still reach the group."""
    relative = ThresholdParams(buy_dip_pct=1.0, sell_rise_pct=2.0)
    absolute = ThresholdParams(buy_below=99.0, sell_above=101.0)
    entry = 100.0
    prices = [
        entry,
        entry,  # at the high: no lift
        entry * (1 - 1.0 / 100.0),  # exactly the dip level: the relative bots buy
        99.0,  # exactly buy_below
        entry * (1 - 1.0 / 100.0) * (1 + 2.0 / 100.0),  # exactly the rise level over that entry
        101.0,  # exactly sell_above
        101.0,
        100.5,
        101.0 * (1 - 1.0 / 100.0),  # exactly the dip from the new high
    ]

    def decisions(plain: bool) -> list[tuple[int, Side, str]]:
        strategies: list[Strategy] = [Threshold(p) for p in (relative, relative, absolute, absolute)]
        evaluator, decided = evaluator_with([Alone(s) if plain else s for s in strategies])
        out: list[tuple[int, Side, str]] = []
        for price in prices:
            decided.clear()
            evaluator.evaluate(ticker(price))
            out += sorted((bot, s.side, s.reason) for bot, s in decided)
        return out

    grouped = decisions(plain=False)
    assert grouped == decisions(plain=True)
    assert len(grouped) >= 6  # each level reached
