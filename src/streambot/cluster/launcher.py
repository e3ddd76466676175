"""``streambot cluster``: the whole topology on one machine, as child processes of one group.

The children (the simulator in paper mode, the feed, N workers, the API) are put in a process
group of their own, so a signal reaches all of them at once: Ctrl-C or SIGTERM to the launcher
sends SIGTERM to the group, waits for every child to stop (orders under way finish, leases are
released), and kills whatever is still running after ``grace_s``. One child that exits ends the
cluster the same way: half a topology is not left running.

Blocking waits here are fine: this process runs no event loop, it only supervises.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType

from streambot.clock import Clock

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ChildSpec:
    name: str
    args: list[str]
    env: dict[str, str] = field(default_factory=dict)


def streambot_command(*args: str) -> list[str]:
    """This very interpreter running the ``streambot`` CLI (no reliance on PATH)."""
    return [sys.executable, "-m", "streambot.cli", *args]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float, clock: Clock) -> bool:
    deadline = clock.monotonic() + timeout_s
    while clock.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


class ClusterLauncher:
    def __init__(self, base_env: Mapping[str, str], clock: Clock, *, grace_s: float = 20.0) -> None:
        self._base_env = dict(base_env)
        self._clock = clock
        self._grace_s = grace_s
        self.children: list[tuple[ChildSpec, subprocess.Popen[bytes]]] = []
        self.pgid: int | None = None
        self._stopping = False

    def spawn(self, spec: ChildSpec) -> subprocess.Popen[bytes]:
        # The first child founds the group; the others join it.
        process = subprocess.Popen(
            spec.args, env={**self._base_env, **spec.env}, process_group=self.pgid or 0
        )
        if self.pgid is None:
            self.pgid = process.pid
        self.children.append((spec, process))
        log.info("🚀 %s started (pid %d)", spec.name, process.pid)
        return process

    def run(self, specs: Sequence[ChildSpec]) -> int:
        """Start the children and supervise them until a signal or one of them exits."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            for spec in specs:
                self.spawn(spec)
            while not self._stopping:
                for spec, process in self.children:
                    code = process.poll()
                    if code is not None:
                        log.error(
                            "⛔ %s (pid %d) exited with %d: stopping the cluster",
                            spec.name,
                            process.pid,
                            code,
                        )
                        self._stopping = True
                        break
                time.sleep(0.2)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        log.info("🛑 %s: stopping the cluster", signal.Signals(signum).name)
        self._stopping = True

    def stop(self) -> None:
        if self.pgid is None:
            return
        self._signal_group(signal.SIGTERM)
        deadline = self._clock.monotonic() + self._grace_s
        for spec, process in self.children:
            try:
                process.wait(timeout=max(0.1, deadline - self._clock.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("⚠️ %s (pid %d) did not stop in time: killed", spec.name, process.pid)
        self._signal_group(signal.SIGKILL)
        for _, process in self.children:
            process.wait()
        self.pgid = None

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self.pgid is not None
        with contextlib.suppress(ProcessLookupError):  # every child is gone already
            os.killpg(self.pgid, sig)
