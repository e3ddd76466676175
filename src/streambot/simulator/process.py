"""The paper simulator in a child process of its own: the platform's event loop (and its GIL) stays
the platform's, and the simulator's memory (its market, order and fill history) is not counted in
the platform's.

The parent speaks to the child three ways: the simulator's own HTTP endpoints (Coinbase's REST and
WebSocket for trading, ``/sim/faults`` and ``/sim/stats`` for tests and tools), one line on
stdout when it is ready (its port, or why it could not start), and lines on the child's stdin for
what only the platform knows (the live feed's prices in paper mode on Coinbase's market). The end
of stdin is the child's signal to stop: a platform that is killed takes its simulator with it, and
one that stops closes it after its own feed. See child.py for the other side.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import pickle
import signal
import sys
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import orjson

from streambot.simulator.server import SimulatorConfig

log = logging.getLogger(__name__)

START_TIMEOUT_S: Final = 60.0  # a child that waits for a previous simulator to let go of the account
STOP_TIMEOUT_S: Final = 15.0


class SimulatorFailed(RuntimeError):
    """The simulator's process could not start, or stopped on its own; the message says why."""


@dataclass(frozen=True, slots=True)
class ChildArguments:
    """What the child reads from its first stdin line (pickled: parent and child are one program)."""

    config: SimulatorConfig
    host: str
    port: int
    log_level: str
    log_format: str


def encode_arguments(arguments: ChildArguments) -> bytes:
    return base64.b64encode(pickle.dumps(arguments)) + b"\n"


def decode_arguments(line: bytes) -> ChildArguments:
    arguments = pickle.loads(base64.b64decode(line.strip()))
    if not isinstance(arguments, ChildArguments):
        raise TypeError("the first line is not the simulator's arguments")
    return arguments


class SimulatorProcess:
    """``streambot run``'s paper venue: a :class:`~streambot.simulator.server.Simulator` served
    from ``python -m streambot.simulator.child``. ``start`` returns once it listens."""

    def __init__(
        self, config: SimulatorConfig, *, log_level: str = "INFO", log_format: str = "console"
    ) -> None:
        self.config = config
        self._log_level = log_level
        self._log_format = log_format
        self.host = "127.0.0.1"
        self.port = 0
        self._process: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None
        self._stopping = False

    @property
    def rest_url(self) -> str:
        return f"http://{self._url_host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._url_host}:{self.port}"

    @property
    def _url_host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start the child and wait until it listens; SimulatorFailed (with its reason) otherwise."""
        if self._process is not None:
            raise RuntimeError("the simulator is already running")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streambot.simulator.child",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            # stderr is the platform's: the child's log lines go where the platform's go.
        )
        self._process = process
        assert process.stdin is not None
        assert process.stdout is not None
        try:
            process.stdin.write(
                encode_arguments(ChildArguments(self.config, host, port, self._log_level, self._log_format))
            )
            await process.stdin.drain()
            line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
        except BaseException:
            await self._end(process)
            raise
        ready: dict[str, Any] = orjson.loads(line) if line.strip() else {}
        if "port" not in ready:
            code = await self._end(process)
            reason = ready.get("error") or f"it exited with code {code}"
            raise SimulatorFailed(f"the paper simulator did not start: {reason}")
        self.host, self.port = host, int(ready["port"])
        self._http = aiohttp.ClientSession()

    async def wait(self) -> None:
        """Return when the child has exited; SimulatorFailed when nobody asked it to."""
        process = self._process
        if process is None:
            return
        code = await process.wait()
        if not self._stopping:
            raise SimulatorFailed(f"the paper simulator stopped on its own (exit code {code})")

    def apply_external_tick(self, product_id: str, price: float, best_bid: float, best_ask: float) -> None:
        """The paper market follows a live price (written to the child's stdin, never awaited)."""
        process = self._process
        if process is None or process.stdin is None or process.stdin.is_closing():
            return
        process.stdin.write(f"{product_id} {price!r} {best_bid!r} {best_ask!r}\n".encode())

    # --- the admin endpoints -------------------------------------------------------------------

    async def inject_fault(self, fault: str | dict[str, Any], **fields: Any) -> dict[str, Any]:
        """As ``Faults.inject`` in the child: ``inject_fault("latency", ms=200, seconds=5)``."""
        body = dict(fault) if isinstance(fault, dict) else {"fault": fault}
        body.update(fields)
        injected: dict[str, Any] = (await self._admin("POST", "/sim/faults", body))["injected"]
        return injected

    async def clear_faults(self) -> int:
        return int((await self._admin("DELETE", "/sim/faults"))["cleared"])

    async def active_faults(self) -> list[dict[str, Any]]:
        faults: list[dict[str, Any]] = (await self._admin("GET", "/sim/faults"))["faults"]
        return faults

    async def stats(self) -> dict[str, Any]:
        """The child's counters: ticks, rate_limited, connections, orders, rss_bytes."""
        return await self._admin("GET", "/sim/stats")

    async def _admin(self, method: str, path: str, body: object = None) -> dict[str, Any]:
        if self._http is None:
            raise SimulatorFailed("the paper simulator is not running")
        async with self._http.request(method, f"{self.rest_url}{path}", json=body) as response:
            answer: dict[str, Any] = await response.json(loads=orjson.loads)
            if response.status != 200:
                raise SimulatorFailed(f"{method} {path}: HTTP {response.status} {answer}")
            return answer

    # --- stopping ------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Ask the child to stop (end of its stdin) and wait; killed if it does not in time."""
        self._stopping = True
        http, self._http = self._http, None
        if http is not None:
            await http.close()
        process, self._process = self._process, None
        if process is not None:
            await self._end(process)

    async def _end(self, process: asyncio.subprocess.Process) -> int:
        if process.stdin is not None and not process.stdin.is_closing():
            process.stdin.close()
            with contextlib.suppress(ConnectionError):
                await process.stdin.wait_closed()
        try:
            return await asyncio.wait_for(asyncio.shield(process.wait()), STOP_TIMEOUT_S)
        except TimeoutError:
            log.error("The paper simulator did not stop within %.0f s: killed", STOP_TIMEOUT_S)
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGKILL)
            raise
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        return await process.wait()
