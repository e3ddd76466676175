"""Backtests through the API: run in a child process, progress on the status WebSocket, the summary
and the report served, bad input refused by field, a run cancelled, the list kept over a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.integration.api.backtest_recording import BOTS, write_recording
from tests.integration.api.conftest import Api, StartApi, next_frame
from tests.integration.platform.conftest import serving, settings_for

pytestmark = pytest.mark.integration

TICKS = 4_000


async def _post(api: Api, body: dict[str, Any]) -> tuple[int, Any]:
    async with api.http.post(api.url("/api/v1/backtests"), json=body, headers=api.auth) as response:
        return response.status, await response.json()


async def _get(api: Api, path: str) -> Any:
    async with api.http.get(api.url(path), headers=api.auth) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def _until(ws: aiohttp.ClientWebSocketResponse, run_id: int, states: set[str]) -> list[dict[str, Any]]:
    """The run's events up to and including the first in one of ``states``."""
    seen: list[dict[str, Any]] = []
    while True:
        frame = await next_frame(ws, "event", within=120)
        if frame["topic"].startswith("backtests.") and frame["data"]["backtest_id"] == run_id:
            seen.append(frame["data"])
            if frame["data"]["state"] in states:
                return seen


async def test_a_run_reports_progress_live_and_serves_its_summary_and_report(api: Api) -> None:
    write_recording(api.platform.settings.data_dir / "recordings", TICKS)
    ws = await api.ws("/api/v1/ws/status")
    status, body = await _post(
        api, {"data": ["recordings"], "bots": BOTS, "fees": {"maker": "0.004", "taker": "0.008"}}
    )
    assert status == 202, body
    assert body["state"] == "queued"
    run_id = body["id"]
    events = await _until(ws, run_id, {"done", "failed"})
    assert events[-1]["state"] == "done", events[-1]
    assert [e["state"] for e in events][:2] == ["queued", "running"]
    assert any(e["state"] == "running" and e.get("ticks") == TICKS for e in events), events

    run = await _get(api, f"/api/v1/backtests/{run_id}")
    assert run["state"] == "done"
    assert run["summary"]["ticks"] == TICKS
    assert run["summary"]["fees"] == {"maker": "0.004", "taker": "0.008"}
    assert [bot["name"] for bot in run["summary"]["bots"]] == ["ema fast", "rsi"]
    assert run["figures"]["ticks"] == TICKS
    assert "total_pnl_quote" in run["figures"]
    assert run["report_url"] == f"/api/v1/backtests/{run_id}/report"

    listed = await _get(api, "/api/v1/backtests")
    assert [(item["id"], item["state"]) for item in listed] == [(run_id, "done")]
    assert listed[0]["data"] == [str((api.platform.settings.data_dir / "recordings").resolve())]

    async with api.http.get(api.url(run["report_url"]), headers=api.auth) as response:
        assert response.status == 200
        assert response.content_type == "text/html"
        assert "data:image/png;base64," in await response.text()
    charts = sorted(path.name for path in (api.platform.backtests.folder(run_id) / "report").glob("*.png"))
    assert run["charts"] == charts
    assert charts
    async with api.http.get(api.url(f"{run['report_url']}/{charts[0]}"), headers=api.auth) as response:
        assert response.status == 200
        assert response.content_type == "image/png"
    async with api.http.get(api.url(f"{run['report_url']}/..%2Fsummary.json"), headers=api.auth) as response:
        assert response.status == 404
    async with api.http.get(api.url(run["report_url"])) as response:
        assert response.status == 401


# (body, the error's loc, words of its message): one platform for all, each refused before any run.
BAD_INPUT: list[tuple[dict[str, Any], list[str | int], str]] = [
    ({"data": ["nowhere.jsonl"], "bots": BOTS}, ["body", "data", 0], "does not exist"),
    ({"data": ["/etc/passwd"], "bots": BOTS}, ["body", "data", 0], "outside the data dir"),
    ({"data": ["recordings", "../x"], "bots": BOTS}, ["body", "data", 1], "outside the data dir"),
    ({"data": ["recordings"], "bots": []}, ["body", "bots"], "empty"),
    (
        {"data": ["recordings"], "bots": [{**BOTS[0], "budget": "-1"}]},
        ["body", "bots", 0, "budget"],
        "greater than 0",
    ),
    (
        {"data": ["recordings"], "bots": [BOTS[0], {**BOTS[1], "strategy": "nope"}]},
        ["body", "bots", 1, "strategy"],
        "unknown strategy",
    ),
    (
        {"data": ["recordings"], "bots": [{**BOTS[0], "params": {"fast": -3}}]},
        ["body", "bots", 0, "params", "fast"],
        "",
    ),
    (
        {"data": ["recordings"], "bots": [{**BOTS[0], "product_id": "BTCUSD"}]},
        ["body", "bots", 0, "product_id"],
        "BASE-QUOTE",
    ),
    ({"data": ["recordings"]}, ["body", "bots"], "bot_id"),
    ({"data": ["recordings"], "bot_id": 999}, ["body", "bot_id"], "999"),
    ({"bot_id": 999}, ["body", "bot_id"], "999"),
    ({"data": ["recordings"], "bots": BOTS, "from": "yesterday"}, ["body", "from"], "ISO"),
    (
        {"data": ["recordings"], "bots": BOTS, "fees": {"maker": "0.7", "taker": "0.01"}},
        ["body", "fees", "maker"],
        "",
    ),
    ({"data": ["recordings"], "bots": BOTS, "latency_ms": -1}, ["body", "latency_ms"], ""),
]


async def test_bad_input_is_refused_naming_the_field(api: Api) -> None:
    write_recording(api.platform.settings.data_dir / "recordings", 10)
    for body, loc, words in BAD_INPUT:
        status, answer = await _post(api, body)
        assert status == 422, (body, answer)
        error = answer["detail"][0]
        assert error["loc"] == loc, (body, error)
        assert words in error["msg"], (body, error)
    assert api.platform.backtests.all() == []


async def test_a_bot_without_data_needs_the_record_dir(api: Api) -> None:
    async with api.http.post(
        api.url("/api/v1/bots"), json={**BOTS[0], "params": {}}, headers=api.auth
    ) as response:
        bot = await response.json()
        assert response.status == 201, bot
    status, answer = await _post(api, {"bot_id": bot["id"]})
    assert status == 422
    assert answer["detail"][0]["loc"] == ["body", "data"]
    assert "STREAMBOT_RECORD_DIR" in answer["detail"][0]["msg"]


async def test_backtest_this_bot_replays_the_record_dir(start: StartApi, tmp_path: Path) -> None:
    recordings = write_recording(tmp_path / "recordings", 1_000)
    api = await start(record_dir=recordings)
    async with api.http.post(api.url("/api/v1/bots"), json=BOTS[0], headers=api.auth) as response:
        bot = await response.json()
    ws = await api.ws("/api/v1/ws/status")
    status, body = await _post(api, {"bot_id": bot["id"]})
    assert status == 202, body
    assert body["bots"][0]["name"] == "ema fast"
    assert body["data"] == [str(recordings.resolve())]
    assert (await _until(ws, body["id"], {"done", "failed"}))[-1]["state"] == "done"


async def test_cancel_kills_the_child_and_delete_removes_a_finished_run(api: Api) -> None:
    write_recording(api.platform.settings.data_dir / "recordings", TICKS)
    ws = await api.ws("/api/v1/ws/status")
    _, first = await _post(api, {"data": ["recordings"], "bots": BOTS})
    _, second = await _post(api, {"data": ["recordings"], "bots": BOTS})
    await _until(ws, first["id"], {"running"})
    listed = {item["id"]: item["state"] for item in await _get(api, "/api/v1/backtests")}
    assert listed == {first["id"]: "running", second["id"]: "queued"}, "one runs at a time"
    async with api.http.delete(api.url(f"/api/v1/backtests/{first['id']}"), headers=api.auth) as response:
        assert response.status == 200
        assert (await response.json())["state"] == "cancelled"
    assert (await _get(api, f"/api/v1/backtests/{first['id']}"))["state"] == "cancelled"
    # The next in the queue runs once the first is gone.
    assert (await _until(ws, second["id"], {"done", "failed"}))[-1]["state"] == "done"
    async with api.http.delete(api.url(f"/api/v1/backtests/{second['id']}"), headers=api.auth) as response:
        assert response.status == 204
    async with api.http.get(api.url(f"/api/v1/backtests/{second['id']}"), headers=api.auth) as response:
        assert response.status == 404
    assert not api.platform.backtests.folder(second["id"]).exists()


async def test_the_runs_are_listed_again_after_a_restart(tmp_path: Path) -> None:
    settings = settings_for(tmp_path / "data")
    write_recording(settings.data_dir / "recordings", 1_000)
    async with serving(settings) as running:
        async with running.http.post(
            running.url("/api/v1/backtests"),
            json={"data": ["recordings"], "bots": BOTS},
            headers=running.auth,
        ) as response:
            run_id = (await response.json())["id"]
        queue = running.platform.backtests
        while queue.get(run_id).active:
            await running.platform.clock.sleep(0.1)
        assert queue.get(run_id).state == "done"
    async with serving(settings) as running:
        async with running.http.get(running.url("/api/v1/backtests"), headers=running.auth) as response:
            listed = await response.json()
        assert [(item["id"], item["state"], item["figures"]["ticks"]) for item in listed] == [
            (run_id, "done", 1_000)
        ]
        async with running.http.get(
            running.url(f"/api/v1/backtests/{run_id}/report"), headers=running.auth
        ) as response:
            assert response.status == 200
        async with running.http.post(
            running.url("/api/v1/backtests"),
            json={"data": ["recordings"], "bots": BOTS},
            headers=running.auth,
        ) as response:
            assert (await response.json())["id"] == run_id + 1, "ids go on after a restart"
        queue = running.platform.backtests
        while queue.get(run_id + 1).state != "running":
            await running.platform.clock.sleep(0.05)
    # Stopped mid-run: the child was killed, and the run says it was interrupted.
    async with serving(settings) as running:
        interrupted = running.platform.backtests.get(run_id + 1)
        assert interrupted.state == "failed"
        assert interrupted.error is not None
        assert "interrupted" in interrupted.error


async def test_a_run_the_engine_refuses_fails_with_its_sentence(api: Api) -> None:
    (api.platform.settings.data_dir / "empty.jsonl").write_text("not json\n")
    ws = await api.ws("/api/v1/ws/status")
    status, body = await _post(api, {"data": ["empty.jsonl"], "bots": BOTS})
    assert status == 202, body
    events = await _until(ws, body["id"], {"done", "failed"})
    assert events[-1]["state"] == "failed"
    run = await _get(api, f"/api/v1/backtests/{body['id']}")
    assert run["error"] == events[-1]["error"]
    assert run["error"].startswith("the data holds no ticks (1 lines skipped"), run["error"]
    assert run["summary"] is None
    assert run["report_url"] is None
