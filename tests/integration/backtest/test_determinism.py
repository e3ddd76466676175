"""The same data, bots and settings give the same bytes, in any process, plain or compressed."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import zstandard

from tests.recordings import ticker_frames

pytestmark = pytest.mark.integration

TIMING = ("ticks_per_s", "elapsed_s")
TICKS = 6_000

BOTS = [
    {
        "name": "ema fast",
        "strategy": "ema_crossover",
        "product_id": "BTC-USD",
        "params": {"fast": 5, "slow": 13},
        "budget": "2000",
    },
    {
        "name": "ema slow",
        "strategy": "ema_crossover",
        "product_id": "ETH-USD",
        "params": {"fast": 8, "slow": 21},
        "budget": "1500",
    },
    {
        "name": "dips",
        "strategy": "threshold",
        "product_id": "BTC-USD",
        "params": {"buy_dip_pct": 0.4, "sell_rise_pct": 3.0},
        "budget": "1000",
    },
    {"name": "rsi", "strategy": "rsi_reversion", "product_id": "ETH-USD", "params": {}, "budget": "800"},
]


def frames() -> list[tuple[float, str]]:
    """Ticker frames of two products on seeded random walks, as Coinbase sends them."""
    return ticker_frames(TICKS, seed=7)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("data")
    made = frames()
    recording = folder / "recording"
    recording.mkdir()
    first = datetime.fromtimestamp(made[0][0], UTC)
    lines = b"".join(f'{{"t":{at:.6f},"frame":{frame}}}\n'.encode() for at, frame in made)
    (recording / f"feed-{first:%Y%m%dT%H}.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    plain = b"".join(frame.encode() + b"\n" for _, frame in made)
    (folder / "frames.jsonl").write_bytes(plain)
    (folder / "frames.jsonl.gz").write_bytes(gzip.compress(plain))
    (folder / "frames.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(plain))
    bots = folder / "bots.json"
    bots.write_text(json.dumps(BOTS))
    return {
        "recording": recording,
        "plain": folder / "frames.jsonl",
        "gz": folder / "frames.jsonl.gz",
        "zst": folder / "frames.jsonl.zst",
        "bots": bots,
    }


def backtest(data: Path, bots: Path, home: Path) -> tuple[bytes, dict[str, Any]]:
    """``streambot backtest --json`` in a process of its own: its last line, timing fields removed."""
    env = {**os.environ, "STREAMBOT_DATA_DIR": str(home)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "streambot.cli",
            "backtest",
            "--data",
            str(data),
            "--bots",
            str(bots),
            "--json",
        ],
        capture_output=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    summary = json.loads(last)
    for name in TIMING:
        summary.pop(name)
    return json.dumps(summary, sort_keys=False).encode(), summary


def test_output_is_byte_identical_across_processes_runs_and_compression(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    first, summary = backtest(inputs["recording"], inputs["bots"], tmp_path)
    assert summary["ticks"] == TICKS
    assert summary["orders"] > 10, "the bots must trade for the comparison to mean something"
    assert len({bot["name"] for bot in summary["bots"]}) == len(BOTS)
    assert backtest(inputs["recording"], inputs["bots"], tmp_path)[0] == first
    for kind in ("plain", "gz", "zst"):
        assert backtest(inputs[kind], inputs["bots"], tmp_path)[0] == first, kind


def test_save_writes_the_run_into_a_database_once(inputs: dict[str, Path], tmp_path: Path) -> None:
    database = tmp_path / "run.db"
    command = [sys.executable, "-m", "streambot.cli", "backtest", "--data", str(inputs["recording"])]
    command += ["--bots", str(inputs["bots"]), "--save", str(database)]
    env = {**os.environ, "STREAMBOT_DATA_DIR": str(tmp_path)}
    first = subprocess.run(command, capture_output=True, env=env, timeout=300, check=False)
    assert first.returncode == 0, first.stderr.decode()[-2000:]
    with sqlite3.connect(database) as db:
        orders = db.execute("select count(*) from orders").fetchone()[0]
        fills = db.execute("select count(*) from fills").fetchone()[0]
        bots = db.execute("select count(*) from bots").fetchone()[0]
    assert orders > 10
    assert fills > 0
    assert bots == len(BOTS)
    again = subprocess.run(command, capture_output=True, env=env, timeout=300, check=False)
    assert again.returncode == 2
    assert b"already holds this run's orders" in again.stderr
    with sqlite3.connect(database) as db:
        assert db.execute("select count(*) from bots").fetchone()[0] == len(BOTS)
