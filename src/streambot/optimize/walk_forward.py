"""Walk-forward: search on a train window, score its best parameters on the test window after it.

``--walk-forward 3d:1d`` cuts the data into successive windows: train on days 0–3, test on day
3–4; train on 1–4, test on 4–5; … (each step moves by the test length), as many as fit whole.
Each train window is a study of its own (the study name with ``-wf1``, ``-wf2``…, so an
interrupted walk resumes too). The best parameters of each are replayed on the following test
window with the same fees, latency and risk limits; in-sample next to out-of-sample shows how
much of the in-sample figure was fitted noise.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from typing import Any

from streambot.backtest.engine import BotFileError
from streambot.backtest.metrics import bot_metrics, duration_text
from streambot.bots import BotCreate
from streambot.optimize.objectives import score
from streambot.optimize.replay import replay
from streambot.optimize.study import TRIAL_BOT, OptimizeJob, StudyRun, best_trials, run_study, trial_params
from streambot.optimize.tape import TickTape

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


class WalkForwardError(ValueError):
    """A --walk-forward the data cannot take; the message says why."""


def parse_duration(text: str, flag: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise WalkForwardError(f"{flag}: {text!r} is not a duration such as 90m, 12h, 3d or 1w")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise WalkForwardError(f"{flag}: {text!r} must be longer than 0")
    return seconds


def parse_walk_forward(text: str) -> tuple[float, float]:
    train, sep, test = text.partition(":")
    if not sep:
        raise WalkForwardError(f"--walk-forward {text!r}: give TRAIN:TEST, e.g. 3d:1d")
    return parse_duration(train, "--walk-forward TRAIN"), parse_duration(test, "--walk-forward TEST")


@dataclass(frozen=True, slots=True)
class WalkWindow:
    index: int  # 1, 2, …
    train: tuple[float, float]  # [start, end) in data time
    test: tuple[float, float]


def windows(start: float, end: float, train_s: float, test_s: float) -> list[WalkWindow]:
    out: list[WalkWindow] = []
    at = start
    while at + train_s + test_s <= end + 1e-9:
        out.append(WalkWindow(len(out) + 1, (at, at + train_s), (at + train_s, at + train_s + test_s)))
        at += test_s
    if not out:
        raise WalkForwardError(
            f"--walk-forward: the data spans {duration_text(end - start)}, shorter than one train and "
            f"test window ({duration_text(train_s)} + {duration_text(test_s)})"
        )
    return out


@dataclass(slots=True)
class WindowResult:
    window: WalkWindow
    run: StudyRun
    params: dict[str, Any] | None  # the train window's best (None: no trial completed)
    in_sample: list[float] | None
    out_of_sample: list[float | None] | None
    test_trades: int = 0

    def as_json(self) -> dict[str, Any]:
        from streambot.backtest.json_summary import iso

        return {
            "window": self.window.index,
            "train": [iso(self.window.train[0]), iso(self.window.train[1])],
            "test": [iso(self.window.test[0]), iso(self.window.test[1])],
            "params": _jsonable(self.params),
            "in_sample": self.in_sample,
            "out_of_sample": self.out_of_sample,
            "test_trades": self.test_trades,
            "trials": self.run.trials,
        }


def _jsonable(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    from decimal import Decimal

    return {k: (float(v) if isinstance(v, Decimal) else v) for k, v in params.items()}


def walk_forward(
    job: OptimizeJob, tape: TickTape, train_s: float, test_s: float, *, trials: int, jobs: int
) -> list[WindowResult]:
    results: list[WindowResult] = []
    for window in windows(tape.start, tape.end, train_s, test_s):
        window_job = replace(job, window=window.train, study_name=f"{job.study_name}-wf{window.index}")
        run = run_study(window_job, tape, trials=trials, jobs=jobs)
        best = best_trials(run.study)
        if not best:
            results.append(WindowResult(window, run, None, None, None))
        else:
            trial = best[0]
            params = trial_params(job, trial)
            lo, hi = tape.index_of(window.test[0]), tape.index_of(window.test[1])
            out: list[float | None] | None = None
            trades = 0
            if hi > lo:
                bot = BotCreate(
                    name=TRIAL_BOT,
                    strategy=job.strategy,
                    product_id=job.product_id,
                    params=params,
                    budget=job.budget,
                )
                try:
                    result = asyncio.run(replay(tape, bot, job.products, job.config, lo=lo, hi=hi))
                except BotFileError:
                    result = None
                if result is not None:
                    metrics = bot_metrics(result.bots[0], result)
                    trades = metrics.trades
                    out = [score(metrics, objective) for objective in job.objectives]
            results.append(WindowResult(window, run, params, list(trial.values), out, trades))
        if run.interrupted:
            break
    return results


__all__ = ["WalkForwardError", "WalkWindow", "WindowResult", "parse_walk_forward", "walk_forward", "windows"]
