"""Optimisation benchmark (``streambot bench --only optimize``): trials per minute of an EMA-cross
search over 1 M ticks with 2 worker processes.

The data is the backtest benchmark's (seeded random walk, 100 ms apart, written as zstd JSON lines
of flat ticks); the bot trades every cross as there (risk limits and cooldown off, Coinbase's
entry fee tier). Measured in one run:

- reading the file into the in-memory tape (what each worker does once) and the tape's size;
- one trial's replay from the tape beside the same replay streamed from the file, which is why
  the workers replay from memory;
- a study of ``TRIALS`` trials (TPE, median pruning) with 2 jobs on a SQLite storage: wall time from
  the start of the workers to the last trial, as trials per minute.

Prints figures and asserts nothing.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from decimal import Decimal
from itertools import chain
from pathlib import Path

from bench.backtest import NO_LIMITS, TICKS, make_quotes, write_flat_ticks
from streambot.backtest.engine import Backtest, BacktestConfig
from streambot.backtest.sources import BacktestData
from streambot.bots import BotCreate
from streambot.optimize.objectives import Objective
from streambot.optimize.replay import replay
from streambot.optimize.space import default_space, parse_param_flags
from streambot.optimize.study import OptimizeJob, run_study
from streambot.optimize.tape import TickTape
from streambot.simulator.market import spec_for
from streambot.strategies.registry import get_spec

TRIALS = 12
JOBS = 2
CONFIG = BacktestConfig(limits=NO_LIMITS, cooldown_s=0.0)
BUDGET = Decimal(1_000_000)


async def _streamed(path: Path, bot: BotCreate) -> float:
    products = {"BTC-USD": spec_for("BTC-USD").product()}
    began = time.perf_counter()
    ticks = BacktestData.open([str(path)]).ticks()
    first = next(ticks)
    backtest = await Backtest.open([bot], products, start=first[0], config=CONFIG)
    await backtest.run(chain((first,), ticks))
    await backtest.finish()
    return time.perf_counter() - began


def print_optimize_benchmarks() -> None:
    logging.getLogger("streambot").setLevel(logging.CRITICAL)
    times, bids, asks = make_quotes(TICKS)
    quotes = list(zip(times, bids, asks, strict=True))
    products = {"BTC-USD": spec_for("BTC-USD").product()}
    bot = BotCreate(
        name="bench",
        strategy="ema_crossover",
        product_id="BTC-USD",
        params={"fast": 10, "slow": 20},
        budget=BUDGET,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ticks.jsonl.zst"
        write_flat_ticks(path, quotes, repeat=1)
        began = time.perf_counter()
        tape = TickTape.read([str(path)])
        read_s = time.perf_counter() - began
        size_mb = (
            sum(c.nbytes for c in tape.columns.values())
            + tape.product_index.nbytes
            + tape.received_ns.nbytes
            + tape.sequence.nbytes
        ) / 2**20
        began = time.perf_counter()
        asyncio.run(replay(tape, bot, products, CONFIG))
        memory_s = time.perf_counter() - began
        streamed_s = asyncio.run(_streamed(path, bot))
        print(f"optimize: {len(tape):,} ticks read into the tape in {read_s:.1f} s ({size_mb:.0f} MB)")
        print(
            f"optimize: one EMA(10/20) trial: {memory_s:.2f} s from memory "
            f"({len(tape) / memory_s:,.0f} ticks/s), {streamed_s:.2f} s streamed from the file "
            f"({len(tape) / streamed_s:,.0f} ticks/s)"
        )
        spec = get_spec("ema_crossover")
        space = parse_param_flags(
            default_space(spec), spec, ["fast=5:30", "slow=20:100", "sell_on_cross=true"]
        )
        job = OptimizeJob(
            data=(str(path),),
            strategy="ema_crossover",
            product_id="BTC-USD",
            budget=BUDGET,
            space=space,
            objectives=(Objective.PROFIT,),
            products=products,
            config=CONFIG,
            storage=f"sqlite:///{Path(folder) / 'optimize.db'}",
            study_name="bench",
            seed=1,
        )
        began = time.perf_counter()
        run = run_study(job, tape, trials=TRIALS, jobs=JOBS)
        elapsed = time.perf_counter() - began
        pruned = sum(1 for t in run.study.trials if t.state.name == "PRUNED")
        print(
            f"optimize: {run.trials} trials ({pruned} pruned) of an EMA-cross search over {len(tape):,} "
            "ticks "
            f"with {JOBS} jobs in {elapsed:.1f} s: {run.trials / elapsed * 60:.1f} trials/min "
            "(worker start-up and each worker's read of the data included)"
        )


if __name__ == "__main__":
    print_optimize_benchmarks()
