"""Parameter searches through the API: started as a process of their own, followed on the live
WebSocket's status channel, refused with the command's sentences, and turned into a bot."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np

from tests.integration.api.conftest import Api, next_frame


def write_ticks(path: Path, count: int = 2_000) -> Path:
    rng = np.random.default_rng(5)
    mid = (50_000 * np.exp(np.cumsum(rng.normal(0, 0.001, count)))).tolist()
    with path.open("w") as out:
        for i, price in enumerate(mid):
            tick = {"time": 1_767_225_600 + i, "product_id": "BTC-USD", "price": round(price, 2)}
            out.write(json.dumps(tick) + "\n")
    return path


async def test_a_search_runs_apart_reports_progress_and_gives_a_bot(api: Api, tmp_path: Path) -> None:
    data = write_ticks(tmp_path / "ticks.jsonl")
    ws = await api.ws("/api/v1/ws/status")
    await next_frame(ws, "hello")
    body = {
        "data": [str(data)],
        "strategy": "ema_crossover",
        "product_id": "BTC-USD",
        "budget": "1000",
        "trials": 4,
        "jobs": 1,
        "seed": 3,
        "space": {"fast": {"low": 3, "high": 8}, "slow": {"low": 12, "high": 30}},
    }
    async with api.http.post(api.url("/api/v1/optimizations"), json=body, headers=api.auth) as response:
        assert response.status == 202, await response.text()
        started = await response.json()
    assert started["status"] == "running"
    run_id = started["id"]
    statuses: list[str] = []
    async with asyncio.timeout(90):
        while "done" not in statuses and "failed" not in statuses:
            frame = await next_frame(ws, "event", within=90)
            if frame.get("topic") == "optimizations.progress" and frame["data"]["optimization_id"] == run_id:
                statuses.append(frame["data"]["status"])
    assert statuses[-1] == "done"
    async with api.http.get(api.url(f"/api/v1/optimizations/{run_id}"), headers=api.auth) as response:
        run = await response.json()
    assert run["trials"] == 4
    assert 3 <= run["best_params"]["fast"] <= 8
    async with api.http.post(
        api.url(f"/api/v1/optimizations/{run_id}/bots"), json={"name": "tuned"}, headers=api.auth
    ) as response:
        assert response.status == 201, await response.text()
        bot = await response.json()
    assert bot["state"] == "stopped"
    assert bot["params"]["fast"] == run["best_params"]["fast"]
    await ws.close()


async def test_bad_searches_get_the_commands_sentences(api: Api, tmp_path: Path) -> None:
    data = write_ticks(tmp_path / "ticks.jsonl", 10)
    base: dict[str, object] = {
        "data": [str(data)],
        "strategy": "ema_crossover",
        "product_id": "BTC-USD",
        "budget": "1000",
    }
    cases: list[tuple[dict[str, object], str]] = [
        ({"space": {"slowest": {"low": 1, "high": 2}}}, "ema_crossover has no parameter 'slowest'"),
        (
            {"space": {"fast": {"low": 1, "high": 9}}},
            "params.fast: Input should be greater than or equal to 2",
        ),
        ({"strategy": "nope"}, "unknown strategy 'nope'"),
        ({"walk_forward": "3d"}, "give TRAIN:TEST, e.g. 3d:1d"),
    ]
    for change, message in cases:
        async with api.http.post(
            api.url("/api/v1/optimizations"), json=base | change, headers=api.auth
        ) as response:
            assert response.status == 422
            assert message in await response.text()
