"""`streambot run` stopped by SIGTERM (a service manager, `kill`) shuts down as Ctrl-C does."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_platform_cleanly(tmp_path: Path, stop_with: signal.Signals) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "STREAMBOT_DATA_DIR": str(tmp_path / "data"),
        "STREAMBOT_PORT": str(_free_port()),
        "STREAMBOT_PRODUCTS": "BTC-USD",
        "STREAMBOT_DEMO_BOTS": "false",
    }
    log = tmp_path / "streambot.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from streambot.cli import main; main()", "run"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while "streambot is running" not in log.read_text():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            proc.send_signal(stop_with)
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert "✅ streambot stopped" in text, text
    assert "Traceback" not in text, text
    assert code == 0, text
