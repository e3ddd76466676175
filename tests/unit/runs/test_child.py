"""A ``streambot …``-like child followed by the runs part: progress lines parsed, the JSON last
line read, the failure's own sentence kept, and the child stopped when the run is cancelled."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from streambot.clock import SystemClock
from streambot.runs.child import ChildStartError, Watch, run_child


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def test_progress_lines_are_parsed_and_the_last_stdout_line_is_the_result(tmp_path: Path) -> None:
    seen: list[bytes] = []

    def progress(line: bytes) -> bool:
        if line.startswith(b'{"ticks"'):
            seen.append(line.strip())
            return True
        return False

    watched = 0

    async def check() -> None:
        nonlocal watched
        watched += 1

    code = (
        "import sys\n"
        'sys.stderr.write(\'{"ticks": 1}\\nnot progress\\n{"ticks": 2}\\n\')\n'
        "print('chatter')\n"
        "print('{\"total\": 3}')\n"
    )
    outcome = await run_child(
        _python(code),
        clock=SystemClock(),
        progress=progress,
        log_path=tmp_path / "child.log",
        watch=Watch(check, 60.0),
    )
    assert outcome.code == 0
    assert outcome.result == {"total": 3}
    assert outcome.json_line == b'{"total": 3}'
    assert seen == [b'{"ticks": 1}', b'{"ticks": 2}']
    assert outcome.tail == ("not progress",)
    assert (tmp_path / "child.log").read_text().count("\n") == 3, "every stderr line is logged"
    assert watched == 1, "the watch looks once more at the end"


async def test_a_failure_gives_the_commands_sentence_and_no_result() -> None:
    code = (
        "import sys\n"
        "print('{\"half\": ')\n"
        "sys.stderr.write('working\\nstreambot: the data holds\\n  no ticks\\n')\n"
        "sys.exit(2)\n"
    )
    outcome = await run_child(_python(code), clock=SystemClock())
    assert outcome.code == 2
    assert outcome.result is None
    assert outcome.error_text("backtest") == "the data holds no ticks"
    silent = await run_child(_python("raise SystemExit(3)"), clock=SystemClock())
    assert silent.error_text("backtest") == "the backtest process exited with status 3"


async def test_cancelling_the_run_stops_the_child() -> None:
    started = asyncio.Event()
    pids: list[int] = []

    def progress(line: bytes) -> bool:
        pids.append(int(line))
        started.set()
        return True

    code = (
        "import os, sys, time\nsys.stderr.write(f'{os.getpid()}\\n')\nsys.stderr.flush()\ntime.sleep(600)\n"
    )
    task = asyncio.create_task(run_child(_python(code), clock=SystemClock(), progress=progress))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(ProcessLookupError):
        os.kill(pids[0], 0)


async def test_a_command_that_cannot_start_says_so(tmp_path: Path) -> None:
    with pytest.raises(ChildStartError):
        await run_child([str(tmp_path / "no-such-python")], clock=SystemClock())
