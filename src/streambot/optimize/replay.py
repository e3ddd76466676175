"""One trial's backtest: the bot with the trial's parameters replayed over a slice of the tape.

The replay is the backtest engine's (``backtest.engine.Backtest``): the live evaluator, strategy,
risk rules and order path against the matcher, fees and latency as ``streambot backtest`` has
them. What this adds is the checkpoints: at every tenth of the slice the bot's profit so far (in %
of its budget, the open position marked at the last price) is handed to ``checkpoint``, which
may stop the replay (Optuna's pruning raises ``TrialPruned`` there).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal

from streambot.backtest.engine import Backtest, BacktestConfig
from streambot.backtest.result import BacktestResult
from streambot.backtest.sources import TimedTick
from streambot.bots import BotCreate
from streambot.domain import BotId, Product, ProductId
from streambot.optimize.tape import TickTape

CHECKPOINTS = 10
Checkpoint = Callable[[int, float], None]  # (step 1…9, profit % so far)


async def replay(
    tape: TickTape,
    bot: BotCreate,
    products: Mapping[ProductId, Product],
    config: BacktestConfig,
    *,
    lo: int = 0,
    hi: int | None = None,
    checkpoint: Checkpoint | None = None,
    stop: Callable[[], bool] | None = None,
) -> BacktestResult:
    """The backtest of ``bot`` over ticks ``lo``…``hi-1``; ``BotFileError`` when the bot is refused."""
    hi = len(tape) if hi is None else hi
    backtest = await Backtest.open([bot], products, start=tape.at(lo), config=config)
    ticks: Iterator[TimedTick] = tape.ticks(lo, hi)
    if checkpoint is not None:
        bot_id = (await backtest.bots.list())[0].id
        ticks = _checkpointed(ticks, hi - lo, backtest, bot_id, bot, checkpoint)
    if stop is not None:
        ticks = _stoppable(ticks, stop)
    began = time.perf_counter()
    await backtest.run(ticks)
    await backtest.finish()
    return backtest.result(
        data=[], candle_derived=tape.candle_derived, skipped=[], elapsed_s=time.perf_counter() - began
    )


def _stoppable(ticks: Iterator[TimedTick], stop: Callable[[], bool]) -> Iterator[TimedTick]:
    """Ends the replay with KeyboardInterrupt once ``stop()`` says so (checked every 4,096 ticks)."""
    for index, item in enumerate(ticks):
        if not index & 4095 and stop():
            raise KeyboardInterrupt
        yield item


def _checkpointed(
    ticks: Iterator[TimedTick],
    count: int,
    backtest: Backtest,
    bot_id: BotId,
    bot: BotCreate,
    checkpoint: Checkpoint,
) -> Iterator[TimedTick]:
    budget, product = bot.budget, bot.product_id
    # The engine pulls the next tick only once the previous one is fully handled, so between two
    # yields the bot's position is the one the replay has reached.
    marks = [count * step // CHECKPOINTS for step in range(1, CHECKPOINTS)]
    step = 0
    next_mark = marks[0] if count >= CHECKPOINTS else count + 1
    price = 0.0
    for index, item in enumerate(ticks):
        if index == next_mark:
            step += 1
            position = backtest.bots.position(bot_id)
            marked = Decimal(repr(price))
            equity = budget + position.realized_pnl + (position.base * marked - position.cost)
            checkpoint(step, float((equity - budget) / budget * 100))
            next_mark = marks[step] if step < len(marks) else count + 1
        if item[1].product_id == product:
            price = item[1].price
        yield item


__all__ = ["CHECKPOINTS", "Checkpoint", "replay"]
