"""The API's backtests: queued, run one or two at a time, each in a process of its own.

A replay is CPU work for seconds to hours; on the platform's loop it would stall the feed, the
bots and the API. So each run is ``streambot backtest … --json --progress-json --report-dir`` in
a child process (the same command a person runs, so the API's results are the CLI's, byte for
byte). Its progress lines become ``BacktestUpdated`` events on the bus, which the live push sends
to the dashboard. ``parallel`` bounds how many run at once: a replay keeps a core busy, and the
platform needs one too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from streambot.backtest.runs.run_record import (
    BOTS_FILE,
    REPORT_DIR,
    SUMMARY_FILE,
    BacktestRun,
    RunState,
    figures_of,
    load_runs,
    save_request,
    save_state,
)
from streambot.bus import Bus
from streambot.clock import Clock
from streambot.events import BacktestUpdated
from streambot.runs.child import ChildStartError, ProgressParser, run_child

log = logging.getLogger(__name__)

STOPPED_DURING_RUN = "interrupted: the platform stopped during the run; start it again"


class BacktestQueue:
    def __init__(
        self,
        root: Path,
        bus: Bus,
        clock: Clock,
        *,
        parallel: int = 1,
        env: Mapping[str, str] | None = None,
        python: str = sys.executable,
    ) -> None:
        if parallel < 1:
            raise ValueError("parallel must be at least 1")
        self.root = root
        self._bus = bus
        self._clock = clock
        self._parallel = parallel
        self._env = dict(env) if env is not None else None
        self._python = python
        self._runs: dict[int, BacktestRun] = {}
        self._waiting: deque[BacktestRun] = deque()
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._cancelling: set[int] = set()
        self._wake = asyncio.Event()
        self._next_id = 1

    # --- the record ---------------------------------------------------------------------------

    async def load(self) -> None:
        """The runs kept on disk; one that was running when the platform stopped has failed."""
        runs = await asyncio.to_thread(load_runs, self.root)
        now = self._clock.time()
        for run in runs:
            if run.state == "running":
                run.state, run.error, run.finished = "failed", STOPPED_DURING_RUN, now
                await asyncio.to_thread(save_state, self.folder(run.id), run)
            self._runs[run.id] = run
            if run.state == "queued":
                self._waiting.append(run)
        self._next_id = max(self._runs, default=0) + 1
        self._wake.set()

    def folder(self, run_id: int) -> Path:
        return self.root / str(run_id)

    def all(self) -> list[BacktestRun]:
        """Newest first."""
        return sorted(self._runs.values(), key=lambda run: run.id, reverse=True)

    def get(self, run_id: int) -> BacktestRun:
        run = self._runs.get(run_id)
        if run is None:
            raise LookupError(f"backtest {run_id} not found")
        return run

    # --- requests ------------------------------------------------------------------------------

    async def submit(self, request: dict[str, Any]) -> BacktestRun:
        """Queue a run of ``request`` (data, bots, from, to, fees, latency_ms), validated already."""
        run = BacktestRun(id=self._next_id, created=self._clock.time(), request=request)
        self._next_id += 1
        await asyncio.to_thread(save_request, self.folder(run.id), run)
        self._runs[run.id] = run
        self._waiting.append(run)
        self._publish(run)
        log.info(
            "🧪 Backtest %d queued: %d bot(s) over %d data path(s)",
            run.id,
            len(request["bots"]),
            len(request["data"]),
        )
        self._wake.set()
        return run

    async def cancel(self, run_id: int) -> BacktestRun | None:
        """Cancel a queued or running run (its process killed) and keep it; remove a finished one
        with its files (None)."""
        run = self.get(run_id)
        task = self._tasks.get(run_id)
        if task is not None:
            self._cancelling.add(run_id)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if run.active:  # cancelled before it began: nothing of it ran
                await self._finish(run, "cancelled")
            return run
        if run.state == "queued":
            with contextlib.suppress(ValueError):
                self._waiting.remove(run)
            await self._finish(run, "cancelled")
            return run
        del self._runs[run_id]
        await asyncio.to_thread(shutil.rmtree, self.folder(run_id), True)
        log.info("🗑️ Backtest %d removed", run_id)
        return None

    # --- the worker ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Start queued runs while fewer than ``parallel`` run; supervised by the platform."""
        try:
            while True:
                while self._waiting and len(self._tasks) < self._parallel:
                    run = self._waiting.popleft()
                    task = asyncio.create_task(self._execute(run), name=f"backtest-{run.id}")
                    self._tasks[run.id] = task
                    task.add_done_callback(self._ended)
                await self._wake.wait()
                self._wake.clear()
        finally:
            await self.close()

    def _ended(self, task: asyncio.Task[None]) -> None:
        for run_id, running in tuple(self._tasks.items()):
            if running is task:
                del self._tasks[run_id]
                self._cancelling.discard(run_id)
        self._wake.set()

    async def close(self) -> None:
        """Kill every running child (their runs fail as interrupted)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _command(self, run: BacktestRun) -> list[str]:
        request, folder = run.request, self.folder(run.id)
        args = [self._python, "-m", "streambot.cli", "backtest"]
        for path in request["data"]:
            args += ["--data", path]
        args += ["--bots", str(folder / BOTS_FILE), "--json", "--progress-json"]
        args += ["--report-dir", str(folder / REPORT_DIR), "--latency-ms", repr(float(request["latency_ms"]))]
        if request.get("from") is not None:
            args += ["--from", repr(float(request["from"]))]
        if request.get("to") is not None:
            args += ["--to", repr(float(request["to"]))]
        fees = request.get("fees")
        if fees is not None:
            args += ["--fees", f"{fees['maker']},{fees['taker']}"]
        return args

    async def _execute(self, run: BacktestRun) -> None:
        try:
            await self._replay(run)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A fault of ours (a summary that cannot be written, say): the run fails and says why,
            # rather than showing "running" for ever.
            log.exception("❌ Backtest %d: the worker failed", run.id)
            await self._finish(run, "failed", f"internal error: {exc}")

    async def _replay(self, run: BacktestRun) -> None:
        try:
            run.state, run.started = "running", self._clock.time()
            await asyncio.to_thread(save_state, self.folder(run.id), run)
            self._publish(run)
            log.info("🧪 Backtest %d started", run.id)
            try:
                outcome = await run_child(
                    self._command(run), clock=self._clock, env=self._env, progress=self._progress(run)
                )
            except ChildStartError as exc:
                await self._finish(run, "failed", f"could not start the backtest process: {exc}")
                return
        except asyncio.CancelledError:
            cancelled = run.id in self._cancelling
            await asyncio.shield(
                self._finish(run, "cancelled")
                if cancelled
                else self._finish(run, "failed", STOPPED_DURING_RUN)
            )
            raise
        if outcome.code != 0:
            await self._finish(run, "failed", outcome.error_text("backtest"))
            return
        if outcome.result is None or outcome.json_line is None:
            await self._finish(run, "failed", "the backtest process printed no JSON summary")
            return
        summary = outcome.result
        await asyncio.to_thread((self.folder(run.id) / SUMMARY_FILE).write_bytes, outcome.json_line + b"\n")
        run.figures = figures_of(summary)
        run.ticks = int(summary.get("ticks") or 0)
        run.ticks_per_s = int(summary.get("ticks_per_s") or 0)
        await self._finish(run, "done")

    def _progress(self, run: BacktestRun) -> ProgressParser:
        """``--progress-json`` lines become ``BacktestUpdated`` events."""

        def parse(line: bytes) -> bool:
            if not line.startswith(b'{"ticks"'):
                return False
            try:
                progress = orjson.loads(line)
            except orjson.JSONDecodeError:
                return True
            run.ticks = int(progress.get("ticks", 0))
            run.at = progress.get("at")
            run.ticks_per_s = int(progress.get("ticks_per_s", 0))
            self._publish(run)
            return True

        return parse

    async def _finish(self, run: BacktestRun, state: RunState, error: str | None = None) -> None:
        run.state, run.error, run.finished = state, error, self._clock.time()
        await asyncio.to_thread(save_state, self.folder(run.id), run)
        self._publish(run)
        if state == "failed":
            log.warning("❌ Backtest %d failed: %s", run.id, error)
        else:
            log.info("🧪 Backtest %d %s: %d ticks", run.id, state, run.ticks)

    def _publish(self, run: BacktestRun) -> None:
        self._bus.publish(
            BacktestUpdated(
                backtest_id=run.id,
                state=run.state,
                ticks=run.ticks,
                at=run.at,
                ticks_per_s=run.ticks_per_s,
                error=run.error,
            )
        )
