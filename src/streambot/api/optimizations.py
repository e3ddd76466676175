"""Parameter searches started from the API: each one ``streambot optimize`` in a process of its own.

The search never runs in the server's event loop: the server starts the command as a child
process (its progress to a log file, its ``--json`` object on stdout), watches the study in the
storage once a second (in a thread: Optuna's storage is synchronous) and publishes each change as
an ``OptimizationProgressed`` event, which the live WebSocket's status channel carries. The runs
are kept in memory; their studies and reports stay in the data dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import orjson

from streambot.bus import Bus
from streambot.clock import Clock
from streambot.events import OptimizationProgressed

log = logging.getLogger(__name__)

Status = Literal["running", "done", "failed", "interrupted"]
POLL_S = 1.0


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
    process: asyncio.subprocess.Process | None = field(default=None, repr=False)

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


class OptimizationRuns:
    """The API's searches: start one, follow it, list them."""

    def __init__(self, bus: Bus, clock: Clock, data_dir: Path) -> None:
        self._bus = bus
        self._clock = clock
        self._data_dir = data_dir
        self.runs: dict[str, OptimizationRun] = {}
        self._tasks: set[asyncio.Task[None]] = set()

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
        folder = self._data_dir / "optimize" / f"api-{run_id}"
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
            sys.executable, "-m", "streambot.cli", "optimize",
            "--strategy", strategy, "--product", product_id, "--budget", str(budget),
            "--trials", str(trials), "--storage", storage, "--study", run.study,
            "--report-dir", str(folder), "--json", *args,
        ]  # fmt: skip
        log_file = await asyncio.to_thread((folder / "optimize.log").open, "wb")
        try:
            run.process = await asyncio.create_subprocess_exec(
                *command,
                stdout=asyncio.subprocess.PIPE,
                stderr=log_file,
                stdin=asyncio.subprocess.DEVNULL,
                env={**os.environ, "STREAMBOT_DATA_DIR": str(self._data_dir)},
            )
        finally:
            log_file.close()
        self.runs[run_id] = run
        log.info("🔎 Optimization %s started: %s on %s, %d trials", run_id, strategy, product_id, trials)
        task = asyncio.create_task(self._follow(run), name=f"optimization-{run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._publish(run)
        return run

    async def _follow(self, run: OptimizationRun) -> None:
        process = run.process
        assert process is not None
        assert process.stdout is not None
        output = asyncio.create_task(process.stdout.read())
        while not output.done():
            await asyncio.wait({output}, timeout=POLL_S)
            await self._poll(run)
        code = await process.wait()
        lines = output.result().strip().splitlines()
        with contextlib.suppress(ValueError, IndexError):
            run.result = orjson.loads(lines[-1])
        if run.result is not None:
            run.best_value = _first(run.result.get("best_value"))
            run.trials = int(run.result.get("trials_total", run.trials))
        if code == 0 and run.result is not None:
            run.status = "done"
        elif run.result is not None and run.result.get("interrupted"):
            run.status = "interrupted"
        else:
            run.status = "failed"
            log_text = await asyncio.to_thread(_tail, run.report_dir / "optimize.log")
            run.error = log_text or f"the search ended with status {code}"
        log.info("🏁 Optimization %s %s: %d trials, best %s", run.id, run.status, run.trials, run.best_value)
        self._publish(run)

    async def _poll(self, run: OptimizationRun) -> None:
        try:
            trials, best = await asyncio.to_thread(_progress, run.storage, run.study)
        except Exception:  # the study is not created yet, or the storage is busy: next time
            return
        if (trials, best) != (run.trials, run.best_value):
            run.trials, run.best_value = trials, best
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
        """Stop the searches still running (their finished trials stay in the study)."""
        for run in self.runs.values():
            if run.process is not None and run.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    run.process.terminate()
        for task in list(self._tasks):
            task.cancel()


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


def _tail(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1][:500] if lines else ""


__all__ = ["OptimizationRun", "OptimizationRuns"]
