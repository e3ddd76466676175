"""``python -m streambot.simulator.child``: the paper simulator's process (see process.py).

Reads its arguments from the first stdin line, serves, answers ``{"port": N}`` (or
``{"error": "..."}``) on stdout, applies the price lines that follow on stdin and stops at the end
of stdin (the platform closes it, or dies). Ctrl-C and a SIGTERM to the process group (systemd,
docker stop, timeout) reach the child too: it ignores both and lets the platform stop it after
the platform's own feed, so a stop never reads as the simulator dying.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import IO, Final

import orjson

from streambot.clock import Clock, SystemClock
from streambot.observability.logging import LogFormat, configure
from streambot.simulator.process import ChildArguments, decode_arguments
from streambot.simulator.server import Simulator

log = logging.getLogger(__name__)

BIND_RETRY_S: Final = 20.0  # a previous simulator on the same port may still be closing
LOCK_WAIT_S: Final = 30.0


def _answer(message: dict[str, object]) -> None:
    sys.stdout.buffer.write(orjson.dumps(message) + b"\n")
    sys.stdout.buffer.flush()


def _lock_account(path: Path | None, clock: Clock) -> IO[bytes] | None:
    """One simulator per paper account file: a restarted platform's simulator waits for the one
    its killed predecessor left (it stops at the end of its stdin) to let go of the account."""
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = (path.parent / f"{path.name}.lock").open("ab")
    deadline = clock.monotonic() + LOCK_WAIT_S
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return handle
        except BlockingIOError:
            if clock.monotonic() > deadline:
                handle.close()
                raise RuntimeError(f"another simulator still holds the paper account {path}") from None
            time.sleep(0.05)


async def _start(simulator: Simulator, arguments: ChildArguments, clock: Clock) -> None:
    deadline = clock.monotonic() + BIND_RETRY_S
    while True:
        try:
            await simulator.start(arguments.host, arguments.port)
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or arguments.port == 0 or clock.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _follow_stdin(simulator: Simulator, stopping: asyncio.Event) -> None:
    """Price lines until the end of stdin (the parent stopped or died)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    try:
        while line := await reader.readline():
            product_id, price, bid, ask = line.decode().split()
            if product_id in simulator.market:
                simulator.market.apply_external_tick(product_id, float(price), float(bid), float(ask))
    finally:
        stopping.set()


async def _serve(arguments: ChildArguments) -> int:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    try:
        clock = SystemClock()
        lock = _lock_account(arguments.config.state_path, clock)
        simulator = Simulator(arguments.config, clock)
        await _start(simulator, arguments, clock)
    except Exception as exc:
        log.debug("The simulator did not start", exc_info=True)
        _answer({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    try:
        _answer({"port": simulator.port})
        follower = loop.create_task(_follow_stdin(simulator, stopping))
        await stopping.wait()
        follower.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follower
    finally:
        await simulator.stop()
        if lock is not None:
            lock.close()
    return 0


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    arguments = decode_arguments(sys.stdin.buffer.readline())
    configure(arguments.log_level, LogFormat(arguments.log_format))
    code = asyncio.run(_serve(arguments))
    sys.stdout.flush()
    os._exit(code)  # nothing left to run: skip the interpreter's slow teardown


if __name__ == "__main__":
    main()
