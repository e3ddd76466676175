"""A study: trials sampled by Optuna, each one a backtest, run in J worker processes.

The parent creates (or finds) the study in the storage, counts the trials already finished and
splits what is left of ``--trials`` among the workers, so a rerun of the same command carries on
where an interrupted one stopped. Each worker process reads the data once into a ``TickTape``,
opens the same storage and runs its share of trials with its own sampler seed (seed + worker),
so workers do not propose the same points. With one job the trials run in this process: with
``--seed`` the same command then gives the same trials and the same best parameters every time.

TPE for one objective, NSGA-II for several. Pruning (one objective only, as Optuna allows) uses
the median rule on the profit so far at each tenth of the replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import multiprocessing
import os
import signal
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import optuna
import orjson
from optuna.storages import RDBStorage

from streambot.backtest.engine import BacktestConfig, BotFileError
from streambot.backtest.metrics import bot_metrics
from streambot.bots import BotCreate
from streambot.domain import Product, ProductId
from streambot.optimize.objectives import Objective, score
from streambot.optimize.replay import replay
from streambot.optimize.space import SearchSpace
from streambot.optimize.storage import finished_trials, open_storage
from streambot.optimize.tape import TickTape
from streambot.optimize.warmup import warmup_shortfall

log = logging.getLogger(__name__)

TRIAL_BOT = "optimize"  # the name of the one bot each trial replays
PRUNER_STARTUP_TRIALS = 5
PRUNER_WARMUP_STEPS = 2
WORKER_STOP_S = 10.0  # a worker's time to stop after Ctrl-C before it is terminated


@dataclass(frozen=True, slots=True)
class OptimizeJob:
    """Everything a worker needs, picklable: what to search, on which data, scored how."""

    data: tuple[str, ...]
    strategy: str
    product_id: ProductId
    budget: Decimal
    space: SearchSpace
    objectives: tuple[Objective, ...]
    products: Mapping[ProductId, Product]
    config: BacktestConfig = field(default_factory=BacktestConfig)
    start: float | None = None  # --from/--to of the data as read
    end: float | None = None
    window: tuple[float, float] | None = None  # the ticks searched (a walk-forward train window)
    min_trades: int = 0
    storage: str = ""
    study_name: str = ""
    seed: int | None = None
    prune: bool = True
    run_id: str = ""  # this command's mark on its trials: several processes may share the study
    # The user's strategy folder (STREAMBOT_STRATEGY_DIR): a spawned worker loads it again, as the
    # command did, so a search of a user strategy runs in parallel too.
    strategy_dir: str | None = None

    @property
    def directions(self) -> list[optuna.study.StudyDirection]:
        return [optuna.study.StudyDirection.MAXIMIZE] * len(self.objectives)


def study_name_of(job: OptimizeJob) -> str:
    """The default study name: the same command gives the same name (so it resumes), another
    strategy, product, objective, data or space another study."""
    key = orjson.dumps(
        [
            sorted(os.path.abspath(p) for p in job.data),
            job.start,
            job.end,
            str(job.budget),
            job.space.key(),
            str(job.config.fee_tier.maker_fee_rate),
            str(job.config.fee_tier.taker_fee_rate),
            job.config.latency_s,
            job.min_trades,
        ]
    )
    digest = hashlib.sha256(key).hexdigest()[:10]
    return f"{job.strategy}-{job.product_id}-{'+'.join(job.objectives)}-{digest}"


def _sampler(job: OptimizeJob, worker: int) -> optuna.samplers.BaseSampler:
    seed = None if job.seed is None else job.seed + worker
    if len(job.objectives) > 1:
        return optuna.samplers.NSGAIISampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(job: OptimizeJob) -> optuna.pruners.BasePruner:
    if not job.prune or len(job.objectives) > 1:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_STEPS
    )


class TrialObjective:
    """Optuna's objective: sample, replay, score. A trial the strategy refuses (fast ≥ slow), whose
    warm-up is longer than its data, or with fewer than --min-trades trades is pruned, its reason
    kept as the trial's ``reason`` attribute."""

    def __init__(self, job: OptimizeJob, tape: TickTape, worker: int = 0) -> None:
        self._job = job
        self._worker = worker
        self._tape = tape
        if job.window is not None:
            self._lo, self._hi = tape.index_of(job.window[0]), tape.index_of(job.window[1])
        else:
            self._lo, self._hi = 0, len(tape)

    def __call__(self, trial: optuna.Trial) -> float | Sequence[float]:
        job = self._job
        if _CtrlC.stop():
            raise KeyboardInterrupt
        trial.set_user_attr("run", job.run_id)
        trial.set_user_attr("worker", self._worker)
        params = job.space.suggest(trial)
        shortfall = warmup_shortfall(job.strategy, params, self._tape, self._lo, self._hi)
        if shortfall is not None:
            return _pruned(trial, shortfall)
        bot = BotCreate(
            name=TRIAL_BOT, strategy=job.strategy, product_id=job.product_id, params=params, budget=job.budget
        )

        def checkpoint(step: int, profit_pct: float) -> None:
            trial.report(profit_pct, step)
            if trial.should_prune():
                trial.set_user_attr("reason", f"pruned at {step * 10} % of the data")
                raise optuna.TrialPruned()

        pruning = job.prune and len(job.objectives) == 1
        try:
            result = asyncio.run(
                replay(
                    self._tape,
                    bot,
                    job.products,
                    job.config,
                    lo=self._lo,
                    hi=self._hi,
                    checkpoint=checkpoint if pruning else None,
                    stop=_CtrlC.stop,
                )
            )
        except BotFileError as exc:
            return _pruned(trial, str(exc).removeprefix("bots[0]."))
        metrics = bot_metrics(result.bots[0], result)
        trial.set_user_attr("trades", metrics.trades)
        trial.set_user_attr("profit_pct", metrics.total_pnl_pct)
        trial.set_user_attr("max_drawdown_pct", metrics.max_drawdown_pct)
        if metrics.trades < job.min_trades:
            return _pruned(trial, f"{metrics.trades} trades, fewer than --min-trades {job.min_trades}")
        values: list[float] = []
        for objective in job.objectives:
            value = score(metrics, objective)
            if value is None:
                return _pruned(
                    trial, f"{objective} is undefined for this run (too few returns or no drawdown)"
                )
            values.append(value)
        return values[0] if len(values) == 1 else values


def _pruned(trial: optuna.Trial, reason: str) -> float:
    trial.set_user_attr("reason", reason)
    raise optuna.TrialPruned(reason)


def load_study(job: OptimizeJob, worker: int = 0, storage: RDBStorage | None = None) -> optuna.Study:
    return optuna.create_study(
        storage=storage if storage is not None else open_storage(job.storage),
        study_name=job.study_name,
        directions=job.directions,
        sampler=_sampler(job, worker),
        pruner=_pruner(job),
        load_if_exists=True,
    )


def _quiet() -> None:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.getLogger("streambot").setLevel(logging.CRITICAL)


class _CtrlC:
    """Ctrl-C as a flag the replay checks between ticks (``replay``'s ``stop``), so the trial under
    way ends at a safe point, never in the middle of a database write; a second Ctrl-C ends it at
    once."""

    pressed = False

    @classmethod
    def handle(cls, signum: int, frame: object) -> None:
        if cls.pressed:
            raise KeyboardInterrupt
        cls.pressed = True

    @classmethod
    def stop(cls) -> bool:
        return cls.pressed


@contextlib.contextmanager
def _ctrl_c_stops_trials() -> Iterator[None]:
    """Each trial's replay runs in ``asyncio.run``, which, while Python's default SIGINT handler is
    in place, turns Ctrl-C into a cancellation of the replay's task; the engine completes its work
    despite a cancellation, so the interrupt would be lost and the study would carry on. Our own
    handler keeps asyncio's out of the way; the trial under way is recorded as failed by Optuna
    and the finished ones stay in the storage."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _CtrlC.pressed = False
    previous = signal.signal(signal.SIGINT, _CtrlC.handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _worker(job: OptimizeJob, worker: int, trials: int) -> None:
    """A worker process: its own copy of the data, its share of the trials."""
    _quiet()
    if job.strategy_dir is not None:
        from streambot.strategies.user import load_user_strategies

        load_user_strategies(Path(job.strategy_dir))
    # Ctrl-C reaches every process of the terminal's group: here it ends this worker.
    with contextlib.suppress(KeyboardInterrupt), _ctrl_c_stops_trials():
        tape = TickTape.read(job.data, job.start, job.end)
        storage = open_storage(job.storage)
        try:
            study = load_study(job, worker, storage)
            if not _CtrlC.stop():  # Ctrl-C while the data was read: no trial to start
                study.optimize(TrialObjective(job, tape, worker), n_trials=trials, gc_after_trial=False)
        finally:
            storage.engine.dispose()


@dataclass(frozen=True, slots=True)
class StudyRun:
    study: optuna.Study
    trials: int  # finished trials this run added (its own, not another process's on the same study)
    after: int  # finished trials in the study now
    interrupted: bool
    storage: RDBStorage

    def close(self) -> None:
        """Close the storage's connections (the study cannot be read after)."""
        self.storage.engine.dispose()


def shares(total: int, jobs: int) -> list[int]:
    return [total // jobs + (1 if index < total % jobs else 0) for index in range(jobs)]


def run_study(job: OptimizeJob, tape: TickTape, *, trials: int, jobs: int) -> StudyRun:
    """Run the study until it holds ``trials`` finished trials (or Ctrl-C); what is left split
    among ``jobs`` processes, or run here with one job."""
    # The engine's own logs are the caller's to quiet (the CLI does); Optuna's chatter is not wanted.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    job = replace(job, run_id=uuid.uuid4().hex)
    storage = open_storage(job.storage)
    study = load_study(job, storage=storage)
    before = finished_trials(study)
    remaining = max(0, trials - before)
    interrupted = False
    if remaining and jobs <= 1:
        try:
            with _ctrl_c_stops_trials():
                study.optimize(TrialObjective(job, tape), n_trials=remaining, gc_after_trial=False)
        except KeyboardInterrupt:
            interrupted = True
    elif remaining:
        context = multiprocessing.get_context("spawn")
        processes = [
            context.Process(target=_worker, args=(job, index, share), name=f"optimize-{index}")
            for index, share in enumerate(shares(remaining, jobs))
            if share
        ]
        for process in processes:
            process.start()
        try:
            for process in processes:
                process.join()
        except KeyboardInterrupt:
            interrupted = True
            # Ctrl-C in a terminal reached the workers too; a SIGINT sent to this process alone
            # did not: they are told once they have had the time to stop by themselves.
            for process in processes:
                process.join(timeout=WORKER_STOP_S)
                if process.is_alive() and process.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process.pid, signal.SIGINT)
            for process in processes:
                process.join(timeout=WORKER_STOP_S)
                if process.is_alive():  # stuck: its trial under way is failed by the heartbeat
                    process.terminate()
                    process.join()
        if any(process.exitcode not in (0, None) for process in processes) and not interrupted:
            failed = [p.name for p in processes if p.exitcode not in (0, None)]
            log.error("💥 Worker %s ended with an error; its finished trials are kept", ", ".join(failed))
    study = load_study(job, storage=storage)
    ours = sum(1 for trial in _finished(study) if trial.user_attrs.get("run") == job.run_id)
    return StudyRun(
        study=study, trials=ours, after=len(_finished(study)), interrupted=interrupted, storage=storage
    )


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return study.get_trials(deepcopy=False, states=states)


def best_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """The best trial (one objective) or the Pareto front (several); empty when none completed."""
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        return []
    if len(study.directions) > 1:
        return list(study.best_trials)
    return [study.best_trial]


def trial_params(job: OptimizeJob, trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    return job.space.params_of(trial.params)


__all__ = [
    "OptimizeJob",
    "StudyRun",
    "TrialObjective",
    "best_trials",
    "load_study",
    "run_study",
    "shares",
    "study_name_of",
    "trial_params",
]
