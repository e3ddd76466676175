"""``streambot optimize``: the study run, then the best parameters with their full backtest report,
parameter importance, the plots, and with ``--json`` one JSON object as the last line of stdout.

Progress and the summary go to stderr when ``--json`` is given, so stdout carries only the JSON.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import optuna
import orjson
from rich.console import Console
from rich.table import Table

from streambot.backtest.html_report import write_report
from streambot.backtest.json_summary import json_summary
from streambot.backtest.result import BacktestResult
from streambot.backtest.sources import DataSourceError
from streambot.backtest.terminal import print_summary
from streambot.bots import BotCreate
from streambot.optimize.replay import replay
from streambot.optimize.report import importance, write_page, write_plots
from streambot.optimize.storage import StorageError, masked, open_storage
from streambot.optimize.study import (
    OptimizeJob,
    StudyRun,
    best_trials,
    run_study,
    study_name_of,
    trial_params,
)
from streambot.optimize.tape import TickTape
from streambot.optimize.walk_forward import WalkForwardError, WindowResult, walk_forward
from streambot.optimize.walk_forward import windows as windows_of
from streambot.optimize.warmup import smallest_params, warmup_shortfall


class OptimizeError(ValueError):
    """The optimisation cannot start; one sentence for the user."""


@dataclass(frozen=True, slots=True)
class OptimizeOutcome:
    summary: dict[str, Any]  # the --json object
    best_params: dict[str, Any] | None
    interrupted: bool


def _plain(params: dict[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: (float(v) if isinstance(v, Decimal) else v) for k, v in params.items()}


def read_tape(job: OptimizeJob) -> TickTape:
    try:
        tape = TickTape.read(job.data, job.start, job.end)
    except DataSourceError as exc:
        raise OptimizeError(str(exc)) from None
    if not len(tape):
        raise OptimizeError(
            "the data holds no ticks" + (" between --from and --to" if job.start or job.end else "")
        )
    if job.product_id not in tape.products:
        raise OptimizeError(
            f"--product {job.product_id}: the data has no ticks of it (it has {', '.join(tape.products)})"
        )
    return tape


def optimize_command(
    job: OptimizeJob,
    *,
    trials: int,
    jobs: int,
    walk: tuple[float, float] | None,
    as_json: bool,
    report_dir: Path | None,
    report_root: Path = Path("optimize"),
) -> OptimizeOutcome:
    """Run the study (or the walk-forward), report, and return what ``--json`` prints and
    ``--apply`` uses. Raises ``OptimizeError``/``StorageError``/``WalkForwardError`` for input
    it refuses before any trial ran."""
    console = Console(stderr=as_json)
    open_storage(job.storage).engine.dispose()  # an unreachable storage fails now, not after the data is read
    tape = read_tape(job)
    shortfall = warmup_shortfall(job.strategy, smallest_params(job.space), tape, 0, len(tape))
    if shortfall is not None:
        raise OptimizeError(shortfall + ", even with the smallest parameters of the space")
    if walk is not None:
        windows_of(tape.start, tape.end, *walk)  # data too short for one window: say so before any trial
    if not job.study_name:
        job = replace(job, study_name=study_name_of(job))
    if report_dir is None:  # one folder per study: another study's report is never overwritten
        report_dir = report_root / job.study_name
    searched = ", ".join(r.describe() for r in job.space.searched) or "nothing (every parameter fixed)"
    console.print(
        f"🔎 Study [bold]{job.study_name}[/bold] in {masked(job.storage)}: {len(tape):,} ticks, "
        f"{jobs} job(s), searching {searched}"
    )
    windows: list[WindowResult] = []
    if walk is not None:
        windows = walk_forward(job, tape, walk[0], walk[1], trials=trials, jobs=jobs)
        run = windows[-1].run
        trials_run = sum(w.run.trials for w in windows)
        trials_total = sum(w.run.after for w in windows)
        interrupted = any(w.run.interrupted for w in windows)
        best_window = next((w for w in reversed(windows) if w.params is not None), None)
        best_params = best_window.params if best_window is not None else None
        best_value: Any = (
            (best_window.in_sample[0] if len(job.objectives) == 1 else best_window.in_sample)
            if best_window is not None and best_window.in_sample is not None
            else None
        )
    else:
        run = run_study(job, tape, trials=trials, jobs=jobs)
        trials_run, trials_total, interrupted = run.trials, run.after, run.interrupted
        best = best_trials(run.study)
        best_params = trial_params(job, best[0]) if best else None
        best_value = (best[0].values[0] if len(job.objectives) == 1 else best[0].values) if best else None
    if interrupted:
        console.print("⏸️  Interrupted: finished trials are kept in the study; the same command resumes.")
    shares = importance(run.study)
    summary: dict[str, Any] = {
        "study": job.study_name,
        "storage": masked(job.storage),
        "strategy": job.strategy,
        "product": job.product_id,
        "objective": job.objectives[0].value
        if len(job.objectives) == 1
        else [o.value for o in job.objectives],
        "best_params": _plain(best_params),
        "best_value": best_value,
        "trials": trials_run,
        "trials_total": trials_total,
        "pruned": _count(run, optuna.trial.TrialState.PRUNED),
        "importance": shares,
        "interrupted": interrupted,
    }
    if len(job.objectives) > 1:
        summary["pareto_front"] = [
            {"params": _plain(trial_params(job, t)), "values": t.values} for t in best_trials(run.study)
        ]
    if walk is not None:
        summary["out_of_sample"] = [w.as_json() for w in windows]
        _print_walk_forward(console, windows, [r.name for r in job.space.searched])
    report_dir.mkdir(parents=True, exist_ok=True)
    backtest_page: Path | None = None
    if best_params is not None:
        result = _best_run(job, tape, best_params)
        shown = {r.name: _plain(best_params).get(r.name) for r in job.space.searched}  # type: ignore[union-attr]
        console.print(f"🏆 Best parameters: {shown}  ({summary['objective']} {best_value})")
        print_summary(result, console)
        backtest_page = write_report(result, report_dir)
        summary["backtest"] = {
            key: value
            for key, value in json_summary(result).items()
            if key in ("total", "ticks", "digest", "orders")
        }
    else:
        console.print("🤷 No trial completed (all pruned or refused): no best parameters yet.")
    if shares:
        console.print("📊 Parameter importance: " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))
    plots = write_plots(run.study, report_dir, str(summary["objective"]))
    page = write_page(
        report_dir,
        summary=summary,
        plots=plots,
        backtest_report=backtest_page,
        walk_forward=summary.get("out_of_sample", ()),
    )
    summary["report"] = str(page)
    console.print(f"📄 Report: {page}")
    for each in [w.run for w in windows] or [run]:
        each.close()
    if as_json:
        sys.stdout.write(orjson.dumps(summary).decode() + "\n")
        sys.stdout.flush()
    return OptimizeOutcome(summary, best_params, interrupted)


def _count(run: StudyRun, state: optuna.trial.TrialState) -> int:
    return len(run.study.get_trials(deepcopy=False, states=(state,)))


def _best_run(job: OptimizeJob, tape: TickTape, params: dict[str, Any]) -> BacktestResult:
    bot = BotCreate(
        name="best", strategy=job.strategy, product_id=job.product_id, params=params, budget=job.budget
    )
    result = asyncio.run(replay(tape, bot, job.products, job.config))
    result.data = list(job.data)
    return result


def _print_walk_forward(console: Console, windows: list[WindowResult], searched: list[str]) -> None:
    table = Table(title="Walk-forward: in-sample vs out-of-sample")
    for column in ("window", "train", "test", "in-sample", "out-of-sample", "test trades", "parameters"):
        table.add_column(column)
    for w in windows:
        row = w.as_json()
        table.add_row(
            str(row["window"]),
            " → ".join(t[:16] for t in row["train"]),
            " → ".join(t[:16] for t in row["test"]),
            _figures(w.in_sample),
            _figures(w.out_of_sample),
            str(w.test_trades),
            ", ".join(f"{k}={v}" for k, v in (row["params"] or {}).items() if k in searched),
        )
    console.print(table)


def _figures(values: list[float] | list[float | None] | None) -> str:
    if values is None:
        return "—"
    return ", ".join("—" if v is None else f"{v:.4g}" for v in values)


__all__ = [
    "OptimizeError",
    "OptimizeOutcome",
    "StorageError",
    "WalkForwardError",
    "optimize_command",
    "read_tape",
]
