from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from streambot.bus import InProcessBus, PriceBoard
from streambot.clock import ManualClock
from streambot.domain import BotId, BotState, Side, Signal, Ticker
from streambot.evaluator import BotRuntime, StreamingEvaluator
from streambot.strategies.base import BotContext, Strategy
from tests.factories import tick


class Recorder:
    def __init__(self, signal_every: int = 0) -> None:
        self.seen: list[float] = []
        self.signal_every = signal_every

    def on_tick(self, t: Ticker, ctx: BotContext) -> Signal | None:
        self.seen.append(t.price)
        if self.signal_every and len(self.seen) % self.signal_every == 0:
            return Signal(Side.BUY, "test", budget_pct=Decimal(10))
        return None


class Exploding:
    def on_tick(self, t: Ticker, ctx: BotContext) -> Signal | None:
        raise ZeroDivisionError("bad math")


def runtime(bot_id: int, strategy: Strategy, product: str = "BTC-USD") -> BotRuntime:
    ctx = BotContext(bot_id=BotId(bot_id), product_id=product, budget=Decimal(100), clock=ManualClock())
    return BotRuntime(
        bot_id=BotId(bot_id), name=f"bot{bot_id}", strategy_name="x", strategy=strategy, ctx=ctx
    )


def test_every_running_bot_on_the_product_is_evaluated_and_no_other() -> None:
    signals: list[tuple[int, Signal]] = []
    evaluator = StreamingEvaluator(
        InProcessBus(ManualClock()),
        lambda bot, s, t: signals.append((bot.bot_id, s)),
        prices=PriceBoard(),
        clock=ManualClock(),
    )
    btc1, btc2, eth = Recorder(signal_every=2), Recorder(), Recorder()
    evaluator.add(runtime(1, btc1))
    evaluator.add(runtime(2, btc2))
    evaluator.add(runtime(3, eth, "ETH-USD"))

    evaluator.evaluate(tick("BTC-USD", 1.0))
    evaluator.evaluate(tick("BTC-USD", 2.0))

    assert btc1.seen == [1.0, 2.0]
    assert btc2.seen == [1.0, 2.0]
    assert eth.seen == []
    assert [bot for bot, _ in signals] == [1]
    assert evaluator.evaluations == 4
    bot = evaluator.get(BotId(1))
    assert bot is not None
    assert bot.evaluations == 2
    assert bot.signals == 1
    assert evaluator.tick_to_decision.count == 2


def test_a_raising_strategy_puts_only_that_bot_in_error() -> None:
    errors: list[int] = []
    evaluator = StreamingEvaluator(
        InProcessBus(ManualClock()),
        lambda *a: None,
        lambda bot, exc: errors.append(bot.bot_id),
        prices=PriceBoard(),
        clock=ManualClock(),
    )
    healthy = Recorder()
    evaluator.add(runtime(1, Exploding()))
    evaluator.add(runtime(2, healthy))

    evaluator.evaluate(tick("BTC-USD", 1.0))
    evaluator.evaluate(tick("BTC-USD", 2.0))

    broken = evaluator.get(BotId(1))
    assert broken is not None
    assert broken.state is BotState.ERROR
    assert "ZeroDivisionError: bad math" in broken.error_reason
    assert errors == [1]
    assert healthy.seen == [1.0, 2.0]
    assert evaluator.evaluations == 2  # the broken bot left the stream on its first tick


class ExplodingOn:
    """Raises on its ``n``-th tick only."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen = 0

    def on_tick(self, t: Ticker, ctx: BotContext) -> Signal | None:
        self.seen += 1
        if self.seen == self.n:
            raise ZeroDivisionError("bad math on a sampled tick")
        return Signal(Side.BUY, "every tick", budget_pct=Decimal(10))


def test_sampled_ticks_time_each_bot_and_isolate_a_raising_one_like_the_others() -> None:
    """One tick in 16 takes the timed copy of the loop: it must count, decide and fail the same."""
    errors: list[int] = []
    decided: list[int] = []
    evaluator = StreamingEvaluator(
        InProcessBus(ManualClock()),
        lambda bot, s, t: decided.append(bot.bot_id),
        lambda bot, exc: errors.append(bot.bot_id),
        prices=PriceBoard(),
        clock=ManualClock(),
    )
    healthy = Recorder(signal_every=1)
    broken = ExplodingOn(16)  # the 16th tick is the first sampled one
    evaluator.add(runtime(1, healthy))
    evaluator.add(runtime(2, broken))
    for n in range(32):
        evaluator.evaluate(tick("BTC-USD", float(n + 1)))
    first, second = evaluator.get(BotId(1)), evaluator.get(BotId(2))
    assert first is not None
    assert second is not None
    assert len(healthy.seen) == 32
    assert first.timed == 2  # ticks 16 and 32
    assert first.eval_ns_total > 0
    assert second.state is BotState.ERROR
    assert "bad math on a sampled tick" in second.error_reason
    assert errors == [2]
    assert broken.seen == 16  # out of the stream after it raised
    assert evaluator.evaluations == 32 + 15  # the broken bot's failed evaluation does not count
    assert decided.count(1) == 32
    assert decided.count(2) == 15


def test_removed_bots_are_no_longer_evaluated() -> None:
    evaluator = StreamingEvaluator(
        InProcessBus(ManualClock()), lambda *a: None, prices=PriceBoard(), clock=ManualClock()
    )
    recorder = Recorder()
    evaluator.add(runtime(1, recorder))
    evaluator.remove(BotId(1))
    evaluator.evaluate(tick("BTC-USD", 1.0))
    assert recorder.seen == []
    assert evaluator.get(BotId(1)) is None
    assert evaluator.evaluations == 0


async def test_run_consumes_the_bus_and_skips_superseded_ticks() -> None:
    bus, board = InProcessBus(ManualClock()), PriceBoard()
    evaluator = StreamingEvaluator(bus, lambda *a: None, prices=board, clock=ManualClock())
    recorder = Recorder()
    evaluator.add(runtime(1, recorder))
    task = asyncio.create_task(evaluator.run())
    await asyncio.sleep(0)
    for price in (1.0, 2.0, 3.0):  # published with no await in between: only the newest is worth evaluating
        bus.publish_tick(tick("BTC-USD", price))
    for _ in range(100):
        if recorder.seen:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert recorder.seen == [3.0]
    assert evaluator.skipped_ticks == 2


def test_a_bot_with_streaming_off_decides_only_in_the_polling_round_on_the_latest_price() -> None:
    bus, board = InProcessBus(ManualClock()), PriceBoard()
    signals: list[tuple[int, float]] = []
    evaluator = StreamingEvaluator(
        bus, lambda bot, s, t: signals.append((bot.bot_id, t.price)), prices=board, clock=ManualClock()
    )
    polled = runtime(1, Recorder(signal_every=1))
    polled.streaming = False
    streamed = runtime(2, Recorder())
    evaluator.add(polled)
    evaluator.add(streamed)

    for price in (100.0, 101.0, 102.0):
        t = tick("BTC-USD", price)
        board.record(t)
        bus.publish_tick(t)
        evaluator.evaluate(t)
    assert isinstance(polled.strategy, Recorder)
    assert polled.strategy.seen == []  # the stream passes it by
    assert evaluator.poll() == 1
    assert polled.strategy.seen == [102.0]  # the newest price, once
    assert signals == [(1, 102.0)]
    assert isinstance(streamed.strategy, Recorder)
    assert streamed.strategy.seen == [100.0, 101.0, 102.0]  # the polling round passes it by


def test_switching_streaming_moves_a_bot_between_the_stream_and_the_polling_round() -> None:
    bus, board = InProcessBus(ManualClock()), PriceBoard()
    evaluator = StreamingEvaluator(bus, lambda *_: None, prices=board, clock=ManualClock())
    bot = runtime(1, Recorder())
    evaluator.add(bot)
    evaluator.set_streaming(BotId(1), False)
    evaluator.evaluate(tick("BTC-USD", 100.0))
    assert isinstance(bot.strategy, Recorder)
    assert bot.strategy.seen == []
    evaluator.set_streaming(BotId(1), True)
    evaluator.evaluate(tick("BTC-USD", 101.0))
    assert bot.strategy.seen == [101.0]
    board.record(tick("BTC-USD", 102.0))
    assert evaluator.poll() == 0
    assert bot.strategy.seen == [101.0]  # back on the stream: the polling round passes it by
    assert evaluator.set_streaming(BotId(99), False) is None


def test_polling_skips_a_product_without_a_price_and_a_raising_bot_goes_to_error() -> None:
    bus, board = InProcessBus(ManualClock()), PriceBoard()
    errors: list[int] = []
    evaluator = StreamingEvaluator(
        bus, lambda *_: None, lambda bot, exc: errors.append(bot.bot_id), prices=board, clock=ManualClock()
    )
    quiet = runtime(1, Recorder(), product="ETH-USD")
    broken = runtime(2, Exploding())
    for bot in (quiet, broken):
        bot.streaming = False
        evaluator.add(bot)
    board.record(tick("BTC-USD", 100.0))
    evaluator.poll()
    assert isinstance(quiet.strategy, Recorder)
    assert quiet.strategy.seen == []
    assert broken.state is BotState.ERROR
    assert errors == [2]
    board.record(tick("ETH-USD", 50.0))
    evaluator.poll()
    assert errors == [2]  # the broken bot left the polling round
    assert quiet.strategy.seen == [50.0]


async def test_the_polling_loop_runs_on_the_clock_and_stamps_signals_with_its_time() -> None:
    clock = ManualClock()
    bus, board = InProcessBus(clock), PriceBoard()
    signals: list[int] = []
    evaluator = StreamingEvaluator(
        bus, lambda bot, s, t: signals.append(bot.bot_id), prices=board, clock=clock
    )
    polled = runtime(1, Recorder(signal_every=1))
    polled.streaming = False
    evaluator.add(polled)
    board.record(tick("BTC-USD", 100.0))
    task = asyncio.create_task(evaluator.run_polling(5.0))
    await asyncio.sleep(0)
    await clock.run_for(4.9)
    assert signals == []  # no round before the interval has passed on the clock
    await clock.run_for(0.1)
    assert signals == [1]
    assert polled.last_signal_at == clock.time()
    await clock.run_for(10.0)
    assert signals == [1, 1, 1]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
