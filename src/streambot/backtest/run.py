"""One backtest from files to result: the data opened, the engine built, the ticks replayed.

What the CLI and the API's backtest worker process both call. The replay is synchronous file
reading interleaved with the engine's coroutines on this process's own event loop, which only
the backtest uses: never call it on a loop that serves anything else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain

from streambot.backtest.engine import Backtest, BacktestConfig, BotFileError, Progress
from streambot.backtest.result import BacktestResult
from streambot.backtest.save import SaveError, save_run
from streambot.backtest.sources import BacktestData, DataSourceError
from streambot.bots import BotCreate
from streambot.domain import Product, ProductId

ProductRules = Callable[[ProductId], Product]  # a product's increments and minimum sizes


class BacktestError(ValueError):
    """The run cannot start; one sentence for the user."""


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    data: Sequence[str]
    bots: Sequence[BotCreate]
    start: float | None = None  # --from, UNIX seconds
    end: float | None = None  # --to
    config: BacktestConfig = field(default_factory=BacktestConfig)
    save: str | None = None  # --save: a database URL to write the run's records into


def products_of(bots: Sequence[BotCreate], rules: ProductRules) -> Mapping[ProductId, Product]:
    products: dict[ProductId, Product] = {}
    for index, bot in enumerate(bots):
        if bot.product_id in products:
            continue
        try:
            products[bot.product_id] = rules(bot.product_id)
        except ValueError as exc:
            raise BotFileError(f"bots[{index}].product_id: {exc}") from None
    return products


async def run_backtest(
    request: BacktestRequest, rules: ProductRules, progress: Progress | None = None
) -> BacktestResult:
    """Replay ``request.data`` through the engine with ``request.bots``.

    Raises ``BacktestError`` when there is nothing to replay, ``BotFileError`` for a bot the
    platform would refuse, ``DataSourceError`` for a path that cannot be read at all.
    """
    try:
        data = BacktestData.open(list(request.data), request.start, request.end)
    except DataSourceError as exc:
        raise BacktestError(str(exc)) from None
    products = products_of(request.bots, rules)
    ticks = data.ticks()
    first = next(ticks, None)
    if first is None:
        window = " between --from and --to" if request.start is not None or request.end is not None else ""
        skipped = (
            f" ({len(data.skipped)} lines skipped, first: {data.skipped[0].reason})" if data.skipped else ""
        )
        raise BacktestError(f"the data holds no ticks{window}{skipped}")
    backtest = await Backtest.open(request.bots, products, start=first[0], config=request.config)
    began = time.perf_counter()
    await backtest.run(chain((first,), ticks), progress)
    await backtest.finish()
    elapsed = time.perf_counter() - began
    if request.save is not None:
        try:
            await save_run(backtest.store, request.save, backtest.clock)
        except SaveError as exc:
            raise BacktestError(f"--save: {exc}") from None
    return backtest.result(
        data=[str(path) for path in request.data],
        candle_derived=data.candle_derived,
        skipped=data.skipped,
        elapsed_s=elapsed,
    )
