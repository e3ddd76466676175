"""One ``python -m streambot.cli … --json`` child: started, followed, its JSON last line read.

Backtests and parameter searches are CPU work for seconds to hours; on the platform's loop they
would stall the feed, the bots and the API, so each runs as the same command a person types, in a
process of its own. This is the part both share: the child's stderr is read line by line (a
``progress`` parser turns its progress lines into whatever the caller publishes; the other lines
are kept, the last ones explaining a failure, and optionally copied into a log file), a ``watch``
may look at the run's side effects every few seconds (a search's study), and stdout's last line is
the command's ``--json`` object. Cancelled, the child is stopped (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from streambot.clock import Clock

# A stderr line → True when it was a progress line (consumed), False to keep it in the tail.
ProgressParser = Callable[[bytes], bool]

ERROR_TAIL = 40  # stderr lines kept to explain a failure
STOP_WAIT_S = 10.0  # after SIGTERM (a search saves its finished trials), before SIGKILL


class ChildStartError(Exception):
    """The command could not be started at all (no such interpreter, no permission, …)."""


@dataclass(frozen=True, slots=True)
class ChildOutcome:
    code: int
    json_line: bytes | None  # stdout's last line when it is a JSON object
    result: dict[str, Any] | None  # that object
    tail: tuple[str, ...]  # the last stderr lines that were not progress

    def error_text(self, what: str) -> str:
        """The child's own sentence (``streambot: …``, maybe wrapped over lines), else its last
        line, else its exit status."""
        lines = self.tail
        for index, line in enumerate(lines):
            if line.startswith("streambot: "):
                return " ".join(part.strip() for part in lines[index:]).removeprefix("streambot: ")
        return lines[-1] if lines else f"the {what} process exited with status {self.code}"


@dataclass(frozen=True, slots=True)
class Watch:
    """Called every ``every_s`` while the child runs (and once more when it ends)."""

    check: Callable[[], Awaitable[None]]
    every_s: float


async def run_child(
    command: Sequence[str],
    *,
    clock: Clock,
    env: Mapping[str, str] | None = None,
    progress: ProgressParser | None = None,
    log_path: Path | None = None,
    watch: Watch | None = None,
) -> ChildOutcome:
    """Run ``command`` to its end; raises ChildStartError if it cannot start. Cancelling the
    caller stops the child before the cancellation goes on."""
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env) if env is not None else None,
        )
    except OSError as exc:
        raise ChildStartError(str(exc)) from exc
    assert process.stdout is not None
    assert process.stderr is not None
    log_file = await asyncio.to_thread(log_path.open, "ab") if log_path is not None else None
    output = asyncio.create_task(process.stdout.read())
    watching = asyncio.create_task(_watch(watch, clock)) if watch is not None else None
    try:
        tail = await _follow(process.stderr, progress, log_file)
        stdout = await output
        code = await process.wait()
    except asyncio.CancelledError:
        await asyncio.shield(stop(process))
        raise
    finally:
        output.cancel()
        if watching is not None:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
        if log_file is not None:
            log_file.close()
    if watch is not None:
        await watch.check()
    lines = stdout.strip().splitlines()
    result: object = None
    if lines:
        with contextlib.suppress(orjson.JSONDecodeError):
            result = orjson.loads(lines[-1])
    if isinstance(result, dict):
        return ChildOutcome(code, lines[-1], result, tuple(tail))
    return ChildOutcome(code, None, None, tuple(tail))


async def _follow(
    stderr: asyncio.StreamReader, progress: ProgressParser | None, log_file: IO[bytes] | None
) -> deque[str]:
    tail: deque[str] = deque(maxlen=ERROR_TAIL)
    while True:
        line = await stderr.readline()
        if not line:
            return tail
        if log_file is not None:
            log_file.write(line)  # a page-cache write of one line: the loop does not wait on it
        if progress is not None and progress(line):
            continue
        text = line.decode(errors="replace").rstrip()
        if text:
            tail.append(text)


async def _watch(watch: Watch, clock: Clock) -> None:
    while True:
        await clock.sleep(watch.every_s)
        await watch.check()


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM (the command ends cleanly, a search keeps its finished trials), SIGKILL if it lingers."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_WAIT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), STOP_WAIT_S)
