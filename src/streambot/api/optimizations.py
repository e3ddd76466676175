"""Parameter searches started from the API: each one ``streambot optimize`` in a process of its own.

The search never runs in the server's event loop: the runs part starts the command as a child
process (its log into ``optimize.log``, its ``--json`` object on stdout) and, once a second, this
module reads the study in the storage (in a thread: Optuna's storage is synchronous) and publishes
each change as an ``OptimizationProgressed`` event, which the live WebSocket's status channel
carries. Each run is kept in ``<data dir>/optimizations/<id>/`` (state.json, the report, the log),
so a restart lists it again; one that was running when the platform stopped is listed as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, cast

from streambot.bus import Bus
from streambot.clock import Clock
from streambot.events import OptimizationProgressed
from streambot.runs.child import ChildStartError, Watch, run_child
from streambot.runs.files import read_json, write_json

log = logging.getLogger(__name__)

Status = Literal["running", "done", "failed", "interrupted"]
STATUSES: frozenset[str] = frozenset({"running", "done", "failed", "interrupted"})
POLL_S = 1.0
STATE_FILE = "state.json"
LOG_FILE = "optimize.log"
STOPPED_DURING_RUN = "interrupted: the platform stopped during the search; start it again"


@dataclass(slots=True)
class OptimizationRun:
    id: str
    study: str
    strategy: str
    product_id: str
    budget: Decimal
    trials_target: int
    storage: str
    report_dir: Path
    started_at: float
    status: Status = "running"
    trials: int = 0
    best_value: float | None = None
    result: dict[str, Any] | None = None  # the command's --json object once it ended
    error: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "study": self.study,
            "strategy": self.strategy,
            "product_id": self.product_id,
            "budget": str(self.budget),
            "status": self.status,
            "trials": self.trials,
            "trials_target": self.trials_target,
            "best_value": self.best_value,
            "best_params": (self.result or {}).get("best_params"),
            "result": self.result,
            "error": self.error,
            "report": str(self.report_dir / "optimize.html") if self.result else None,
            "started_at": self.started_at,
        }

    def record(self) -> dict[str, Any]:
        """What state.json keeps: the listed fields and the storage the study lives in."""
        return {**self.as_json(), "storage": self.storage}

    @classmethod
    def of_record(cls, folder: Path, record: Mapping[str, Any]) -> OptimizationRun:
        status = str(record.get("status"))
        return cls(
            id=folder.name,
            study=str(record["study"]),
            strategy=str(record["strategy"]),
            product_id=str(record["product_id"]),
            budget=Decimal(str(record["budget"])),
            trials_target=int(record["trials_target"]),
            storage=str(record["storage"]),
            report_dir=folder,
            started_at=float(record["started_at"]),
            status=cast(Status, status) if status in STATUSES else "failed",
            trials=int(record.get("trials") or 0),
            best_value=record.get("best_value"),
            result=record.get("result"),
            error=str(record.get("error") or ""),
        )


class OptimizationRuns:
    """The API's searches: start one, follow it, list them (again after a restart)."""

    def __init__(
        self,
        root: Path,
        bus: Bus,
        clock: Clock,
        data_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
    ) -> None:
        self.root = root
        self._bus = bus
        self._clock = clock
        self._data_dir = data_dir
        self._env = {**(env or {}), "STREAMBOT_DATA_DIR": str(data_dir)}
        self._python = python
        self.runs: dict[str, OptimizationRun] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def load(self) -> None:
        """The searches kept on disk; one that was running when the platform stopped has failed."""
        for run in await asyncio.to_thread(_load_runs, self.root):
            if run.status == "running":
                run.status, run.error = "failed", STOPPED_DURING_RUN
                await self._save(run)
            self.runs[run.id] = run

    async def start(
        self,
        *,
        strategy: str,
        product_id: str,
        budget: Decimal,
        trials: int,
        args: list[str],
        space: bytes | None = None,
    ) -> OptimizationRun:
        """``args``: the command's other flags (data, objectives…), already checked; ``space``: the
        JSON of its ``--space`` file."""
        run_id = secrets.token_hex(6)
        folder = self.root / run_id
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        if space is not None:
            space_file = folder / "space.json"
            await asyncio.to_thread(space_file.write_bytes, space)
            args = [*args, "--space", str(space_file)]
        storage = f"sqlite:///{(self._data_dir / 'optimize.db').resolve().as_posix()}"
        run = OptimizationRun(
            id=run_id,
            study=f"api-{run_id}",
            strategy=strategy,
            product_id=product_id,
            budget=budget,
            trials_target=trials,
            storage=storage,
            report_dir=folder,
            started_at=self._clock.time(),
        )
        command = [
            self._python, "-m", "streambot.cli", "optimize",
            "--strategy", strategy, "--product", product_id, "--budget", str(budget),
            "--trials", str(trials), "--storage", storage, "--study", run.study,
            "--report-dir", str(folder), "--json", *args,
        ]  # fmt: skip
        await self._save(run)
        self.runs[run_id] = run
        log.info("🔎 Optimization %s started: %s on %s, %d trials", run_id, strategy, product_id, trials)
        task = asyncio.create_task(self._follow(run, command), name=f"optimization-{run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(lambda _: self._tasks.pop(run_id, None))
        self._publish(run)
        return run

    async def _follow(self, run: OptimizationRun, command: list[str]) -> None:
        try:
            outcome = await run_child(
                command,
                clock=self._clock,
                env=self._env,
                log_path=run.report_dir / LOG_FILE,
                watch=Watch(lambda: self._poll(run), POLL_S),
            )
        except ChildStartError as exc:
            await self._end(run, "failed", f"could not start the search process: {exc}")
            return
        except asyncio.CancelledError:
            await asyncio.shield(self._end(run, "failed", STOPPED_DURING_RUN))
            raise
        run.result = outcome.result
        if run.result is not None:
            run.best_value = _first(run.result.get("best_value"))
            run.trials = int(run.result.get("trials_total", run.trials))
        if outcome.code == 0 and run.result is not None:
            await self._end(run, "done")
        elif run.result is not None and run.result.get("interrupted"):
            await self._end(run, "interrupted")
        else:
            await self._end(run, "failed", outcome.error_text("search")[:500])

    async def _end(self, run: OptimizationRun, status: Status, error: str = "") -> None:
        run.status, run.error = status, error
        await self._save(run)
        log.info("🏁 Optimization %s %s: %d trials, best %s", run.id, run.status, run.trials, run.best_value)
        self._publish(run)

    async def _save(self, run: OptimizationRun) -> None:
        await asyncio.to_thread(write_json, run.report_dir / STATE_FILE, run.record())

    async def _poll(self, run: OptimizationRun) -> None:
        try:
            trials, best = await asyncio.to_thread(_progress, run.storage, run.study)
        except Exception:  # the study is not created yet, or the storage is busy: next time
            return
        if (trials, best) != (run.trials, run.best_value):
            run.trials, run.best_value = trials, best
            await self._save(run)
            self._publish(run)

    def _publish(self, run: OptimizationRun) -> None:
        self._bus.publish(
            OptimizationProgressed(
                optimization_id=run.id,
                status=run.status,
                trials=run.trials,
                trials_target=run.trials_target,
                best_value=run.best_value,
            )
        )

    async def close(self) -> None:
        """Stop the searches still running (their finished trials stay in the study; the runs are
        kept as interrupted by the stop)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _load_runs(root: Path) -> list[OptimizationRun]:
    runs: list[OptimizationRun] = []
    if not root.is_dir():
        return runs
    for folder in root.iterdir():
        record = read_json(folder / STATE_FILE)
        if not isinstance(record, dict):
            continue
        with contextlib.suppress(KeyError, TypeError, ValueError, ArithmeticError):
            runs.append(OptimizationRun.of_record(folder, record))
    return runs


def _first(value: object) -> float | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return float(value) if isinstance(value, (int, float)) else None


def _progress(storage_url: str, study_name: str) -> tuple[int, float | None]:
    """Finished trials and the best (first) objective value so far, read from the storage."""
    import optuna

    from streambot.optimize.storage import open_storage

    storage = open_storage(storage_url)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
        states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        finished = study.get_trials(deepcopy=False, states=states)
        complete = [t for t in finished if t.state == optuna.trial.TrialState.COMPLETE and t.values]
        best = max((t.values[0] for t in complete), default=None)
        return len(finished), best
    finally:
        storage.engine.dispose()


__all__ = ["OptimizationRun", "OptimizationRuns"]
