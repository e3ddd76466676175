"""``streambot optimize`` end to end, each run a process of its own as a user starts it: a small
study with its report, seeded reproducibility, resume after Ctrl-C, two processes sharing one
study on the machine's PostgreSQL, and the refusals (unreachable storage, warm-up too long)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from typer.testing import CliRunner

from streambot.cli import cli
from streambot.optimize.objectives import Objective
from streambot.optimize.space import default_space, parse_param_flags
from streambot.optimize.study import OptimizeJob, run_study
from streambot.optimize.tape import TickTape
from streambot.simulator.market import spec_for
from streambot.strategies.registry import get_spec

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
TICKS = 3_000


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded random walk of BTC-USD ticks a second apart (plain JSON lines)."""
    rng = np.random.default_rng(11)
    mid = (50_000 * np.exp(np.cumsum(rng.normal(0, 0.001, TICKS)))).tolist()
    path = tmp_path_factory.mktemp("optimize") / "ticks.jsonl"
    with path.open("w") as out:
        for i, price in enumerate(mid):
            out.write(
                json.dumps(
                    {
                        "time": 1_767_225_600 + i,
                        "product_id": "BTC-USD",
                        "price": round(price, 2),
                        "best_bid": round(price - 0.5, 2),
                        "best_ask": round(price + 0.5, 2),
                    }
                )
                + "\n"
            )
    return path


def command(data: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streambot.cli",
        "optimize",
        "--data",
        str(data),
        "--strategy",
        "ema_crossover",
        "--product",
        "BTC-USD",
        "--budget",
        "1000",
        "--param",
        "fast=3:10",
        "--param",
        "slow=12:40",
        "--json",
        *extra,
    ]


def optimize(data: Path, home: Path, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        command(data, *extra),
        capture_output=True,
        env={**os.environ, "STREAMBOT_DATA_DIR": str(home)},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    summary: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return summary


def test_a_small_study_end_to_end(data: Path, tmp_path: Path) -> None:
    report = tmp_path / "report"
    summary = optimize(
        data, tmp_path, "--trials", "6", "--jobs", "1", "--seed", "5", "--report-dir", str(report)
    )
    assert summary["trials"] == 6
    assert summary["trials_total"] == 6
    assert summary["objective"] == "profit"
    assert 3 <= summary["best_params"]["fast"] <= 10
    assert 12 <= summary["best_params"]["slow"] <= 40
    assert isinstance(summary["best_value"], float)
    assert summary["backtest"]["ticks"] == TICKS
    assert (tmp_path / "optimize.db").is_file()  # the default storage: SQLite in the data dir
    page = (report / "optimize.html").read_text()
    assert "data:image/png;base64," in page
    assert "<script" not in page
    assert (report / "report.html").is_file()
    assert (report / "optimize-history.png").is_file()


def job_for(data: Path, storage: str, study: str, **changes: Any) -> OptimizeJob:
    """The job ``command(data)`` describes, built as the CLI builds it."""
    spec = get_spec("ema_crossover")
    space = parse_param_flags(default_space(spec), spec, ["fast=3:10", "slow=12:40"])
    job = OptimizeJob(
        data=(str(data),),
        strategy="ema_crossover",
        product_id="BTC-USD",
        budget=Decimal(1000),
        space=space,
        objectives=(Objective.PROFIT,),
        products={"BTC-USD": spec_for("BTC-USD").product()},
        storage=storage,
        study_name=study,
    )
    return replace(job, **changes)


def test_seeded_runs_find_the_same_best(data: Path, tmp_path: Path) -> None:
    tape = TickTape.read([str(data)])
    bests = []
    for run in ("a", "b"):
        job = job_for(
            data, f"sqlite:///{tmp_path / run}.db", "seeded", seed=7, objectives=(Objective.SHARPE,)
        )
        done = run_study(job, tape, trials=6, jobs=1)
        study = done.study
        bests.append((study.best_trial.params, study.best_value, [t.params for t in study.trials]))
        done.close()
    assert bests[0] == bests[1]


def _finished(db: Path) -> int:
    if not db.is_file():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as connection:
            row = connection.execute(
                "SELECT count(*) FROM trials WHERE state IN ('COMPLETE', 'PRUNED')"
            ).fetchone()
    except sqlite3.OperationalError:  # the tables are being created
        return 0
    return int(row[0])


def test_ctrl_c_keeps_finished_trials_and_the_same_command_resumes(data: Path, tmp_path: Path) -> None:
    args = ("--trials", "500", "--jobs", "1", "--study", "resume")
    env = {**os.environ, "STREAMBOT_DATA_DIR": str(tmp_path)}
    process = subprocess.Popen(command(data, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    db = tmp_path / "optimize.db"
    deadline = time.monotonic() + 60
    while _finished(db) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr.decode()[-2000:]
    interrupted = json.loads(stdout.strip().splitlines()[-1])
    assert interrupted["interrupted"] is True
    kept = interrupted["trials_total"]
    assert kept >= 3
    assert kept == _finished(db)
    # The same study again (in this process: the command's own path, without its report).
    job = job_for(data, f"sqlite:///{db}", "resume")
    resumed = run_study(job, TickTape.read([str(data)]), trials=kept + 2, jobs=1)
    resumed.close()
    assert resumed.trials == 2
    assert resumed.after == kept + 2


@pytest.fixture
def pg_study() -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    from streambot.optimize.storage import open_storage

    storage = open_storage(PG_URL)
    with contextlib.suppress(KeyError):
        optuna.delete_study(study_name=name, storage=storage)
    storage.engine.dispose()


def test_two_processes_share_one_study_on_postgresql(data: Path, pg_study: str) -> None:
    job = job_for(data, PG_URL, pg_study)
    run = run_study(job, TickTape.read([str(data)]), trials=8, jobs=2)  # two worker processes
    trials = run.study.get_trials(deepcopy=False)
    run.close()
    numbers = sorted(t.number for t in trials)
    assert numbers == list(range(8))  # none counted twice, none missing
    assert all(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED) for t in trials)
    assert run.trials == 8
    assert run.after == 8
    # Each worker ran its own share, in its own process, against the one study.
    assert len({t.user_attrs["worker"] for t in trials}) == 2


def refused(data: Path, home: Path, *extra: str) -> str:
    """The CLI's refusal, run in this process (no trial starts, nothing to isolate)."""
    os.environ["STREAMBOT_DATA_DIR"] = str(home)
    try:
        result = CliRunner().invoke(cli, command(data, *extra)[3:])
    finally:
        del os.environ["STREAMBOT_DATA_DIR"]
    assert result.exit_code == 2, result.output
    return result.output


def test_unreachable_storage_fails_fast_with_its_reason(data: Path, tmp_path: Path) -> None:
    # Refused at the first try (no port listens there), not after retries; no wall-clock bound,
    # which a loaded machine cannot keep.
    output = refused(data, tmp_path, "--storage", "postgresql://postgres@127.0.0.1:1/test")
    assert "--storage postgresql://postgres@127.0.0.1:1/test: cannot open it" in output
    assert "refused" in output.lower()


def test_data_too_short_for_the_warm_up_says_so(data: Path, tmp_path: Path) -> None:
    output = refused(data, tmp_path, "--param", "slow=1500:2000", "--param", "fast=10:20")
    assert "too few for ema_crossover's warm-up: it needs 4,500 ticks" in output


def test_unknown_parameter_and_bounds_are_refused(data: Path, tmp_path: Path) -> None:
    assert "ema_crossover has no parameter 'slowest'" in refused(data, tmp_path, "--param", "slowest=3:4")
    assert "params.fast: Input should be greater than or equal to 2" in refused(
        data, tmp_path, "--param", "fast=0:4"
    )


def test_walk_forward_scores_each_train_windows_best_on_the_next_test_window(
    data: Path, tmp_path: Path
) -> None:
    from streambot.optimize.walk_forward import walk_forward

    job = job_for(data, f"sqlite:///{tmp_path / 'wf.db'}", "wf", seed=3)
    results = walk_forward(job, TickTape.read([str(data)]), 1200.0, 500.0, trials=2, jobs=1)
    for window in results:
        window.run.close()
    assert [w.window.index for w in results] == [1, 2, 3]  # 2,999 s of data: 20 min train, 500 s test
    for window in results:
        assert window.window.test[0] == window.window.train[1]
        if window.params is not None:
            assert window.in_sample is not None
            assert window.out_of_sample is not None
        row = window.as_json()
        assert set(row) >= {"train", "test", "in_sample", "out_of_sample", "params"}
