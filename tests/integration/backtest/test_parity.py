"""Live-vs-replay parity: a paper session that recorded its feed, replayed, decides the same."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SESSION_S = 45.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from streambot.cli import main; main()", *args]


def test_replaying_a_paper_sessions_recording_makes_its_decisions_on_the_same_ticks(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "STREAMBOT_DATA_DIR": str(data),
        "STREAMBOT_RECORD_DIR": str(data / "recording"),
        "STREAMBOT_PORT": str(_free_port()),
    }
    log = tmp_path / "streambot.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(_cli("run"), env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while "streambot is running" not in log.read_text():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            time.sleep(SESSION_S)  # the demo bots trade on the simulator meanwhile
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()

    done = subprocess.run(
        _cli("backtest", "--compare-session", str(data), "--json"),
        env={**env, "STREAMBOT_DATA_DIR": str(tmp_path / "replay")},
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    comparison = summary["compare"]
    print(
        f"PARITY session_decisions={comparison['session_decisions']} replay_decisions="
        f"{comparison['replay_decisions']} same={comparison['same']} "
        f"differences={len(comparison['differences'])}"
    )
    assert comparison["session_decisions"] > 0, "the demo bots made no decision to compare"
    # Fill prices may differ (the simulator's book at arrival vs the recorded quote at decision +
    # latency); which decisions were made, and on which tick, must not. A decision in the last
    # seconds may still have been under way when the session stopped.
    end = summary["end"]
    kinds = [
        d["what"]
        for d in comparison["differences"]
        if d["what"] != "another fill price" and not _near_end(d, end)
    ]
    assert kinds == [], comparison["differences"]


def _near_end(difference: dict[str, object], end: str) -> bool:
    from datetime import datetime

    last = datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp()
    times = [t for t in (difference["session_time"], difference["replay_time"]) if isinstance(t, float)]
    return bool(times) and max(times) > last - 3.0
