"""scripts/restart.sh against a real `streambot run` in the background: start, restart, health."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "restart.sh"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purposes.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return False
    return True


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    data = tmp_path / "data"
    values = {
        **os.environ,
        "STREAMBOT_DATA_DIR": str(data),
        "STREAMBOT_PORT": str(_free_port()),
        "STREAMBOT_PRODUCTS": "BTC-USD,ETH-USD",
        "STREAMBOT_DEMO_BOTS": "true",
        "STREAMBOT_SIM_SEED": "7",
        "STREAMBOT_LOG_ACTIVITY_INTERVAL_S": "1",
        "STREAMBOT_BIN": str(Path(sys.executable).parent / "streambot"),
    }
    yield values
    pid_file = data / "streambot.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)


def _restart(env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_restart_starts_then_restarts_gracefully_and_waits_for_health(env: dict[str, str]) -> None:
    data = Path(env["STREAMBOT_DATA_DIR"])
    url = f"http://127.0.0.1:{env['STREAMBOT_PORT']}"

    first = _restart(env)
    assert "No streambot running" in first
    assert f"Dashboard: {url}/" in first
    pid1 = int((data / "streambot.pid").read_text().split()[0])
    assert _alive(pid1)
    with urllib.request.urlopen(f"{url}/api/v1/health", timeout=5) as response:
        assert response.status == 200

    time.sleep(2.5)  # an activity interval or two: the old bot's lines reach logs/backend.log
    second = _restart(env)
    assert f"Stopping streambot (pid {pid1})" in second
    assert f"Dashboard: {url}/" in second
    pid2 = int((data / "streambot.pid").read_text().split()[0])
    assert pid2 != pid1
    assert not _alive(pid1)
    with urllib.request.urlopen(f"{url}/api/v1/health", timeout=5) as response:
        assert response.status == 200

    log = (data / "logs" / "backend.log").read_text(encoding="utf-8")
    assert log.count("✅ streambot started") == 2
    assert "✅ streambot stopped" in log  # the first one stopped gracefully, not killed
    assert "🤖 Triggering bot evaluations for " in log
    assert "✅ Bot evaluations completed for " in log
    assert "📈 Ticker update: " in log
    token = (data / "api_token").read_text().strip()
    assert token not in log
    assert oct((data / "logs" / "stdout.log").stat().st_mode & 0o777) == "0o600"
