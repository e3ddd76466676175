"""What the dashboard reads beyond the trading records: logs (REST and live), budget limits,
whose market the prices are and whether entries are allowed, in the status frame."""

from __future__ import annotations

import logging
import uuid

from tests.integration.api.conftest import Api, next_frame

BOT = {"name": "b", "strategy": "threshold", "product_id": "BTC-USD", "params": {}}


async def test_logs_lists_the_platforms_records_and_filters_them(api: Api) -> None:
    logger = logging.getLogger("streambot.tests.dashboard")
    logger.setLevel(logging.INFO)
    # The log ring is the process's: other tests' records may be in it, so this one's are unique.
    note = f"🤖 an evaluation note {uuid.uuid4().hex}"
    logger.warning("🔗 a warning the log view shows")
    logger.info(note)
    async with api.http.get(api.url("/api/v1/logs"), headers=api.auth, params={"level": "WARNING"}) as r:
        assert r.status == 200
        body = await r.json()
    messages = [e["message"] for e in body["entries"]]
    assert "🔗 a warning the log view shows" in messages
    assert note not in messages
    assert body["last_id"] >= body["entries"][-1]["id"]
    search = {"search": note.upper().removeprefix("🤖 ")}
    async with api.http.get(api.url("/api/v1/logs"), headers=api.auth, params=search) as r:
        assert [e["message"] for e in (await r.json())["entries"]] == [note]
    async with api.http.get(api.url("/api/v1/logs"), headers=api.auth, params={"level": "LOUD"}) as r:
        assert r.status == 422
        assert (await r.json())["detail"][0]["loc"] == ["query", "level"]
    async with api.http.get(api.url("/api/v1/logs")) as r:
        assert r.status == 401


async def test_the_logs_channel_pushes_each_new_record(api: Api) -> None:
    ws = await api.ws("/api/v1/ws/logs")
    hello = await next_frame(ws)
    assert hello["type"] == "hello"
    assert hello["channel"] == "logs"
    logging.getLogger("streambot.tests.dashboard").warning("❌ pushed live")
    frame = await next_frame(ws, "log")
    while frame["entry"]["message"] != "❌ pushed live":
        frame = await next_frame(ws, "log")
    assert frame["entry"]["level"] == "WARNING"
    assert frame["entry"]["logger"] == "streambot.tests.dashboard"
    await ws.close()


async def test_a_budget_of_1e30_is_refused_naming_the_field_and_the_maximum(api: Api) -> None:
    async with api.http.post(api.url("/api/v1/bots"), headers=api.auth, json={**BOT, "budget": 1e30}) as r:
        assert r.status == 422
        error = (await r.json())["detail"][0]
    assert error["loc"] == ["body", "budget"]
    assert "at most 1000000" in error["msg"]
    assert "STREAMBOT_MAX_BOT_BUDGET" in error["msg"]


async def test_budget_limits_give_the_maximum_and_the_cash(api: Api) -> None:
    async with api.http.get(api.url("/api/v1/bots/budget-limits"), headers=api.auth) as r:
        assert r.status == 200
        body = await r.json()
    assert body["maximum"] == "1000000"
    assert body["checked_against_cash"] is False  # paper
    assert float(body["cash_available"]["USD"]) > 0


async def test_the_status_frame_names_the_market_and_whether_entries_are_allowed(api: Api) -> None:
    ws = await api.ws("/api/v1/ws/status")
    status = await next_frame(ws, "status")
    assert status["market"] == "simulator"
    assert status["mode"] == "paper"
    assert status["entries_blocked"] is None or status["entries_blocked"].startswith("feed not live")
    api.platform.trading.risk.account.halted = True
    api.platform.trading.risk.account.halt_reason = "daily loss limit"
    try:
        status = await next_frame(ws, "status")
        assert status["entries_blocked"] == "trading halted: daily loss limit"
    finally:
        api.platform.trading.risk.account.halted = False
        api.platform.trading.risk.account.halt_reason = ""
    await ws.close()


async def test_a_bots_indicators_are_its_strategys_with_its_periods(api: Api) -> None:
    async def indicators(strategy: str, params: dict[str, object]) -> list[dict[str, object]]:
        body = {**BOT, "strategy": strategy, "params": params, "budget": "100"}
        async with api.http.post(api.url("/api/v1/bots"), headers=api.auth, json=body) as r:
            assert r.status == 201, await r.text()
            bot_id = (await r.json())["id"]
        async with api.http.get(api.url(f"/api/v1/bots/{bot_id}/indicators"), headers=api.auth) as r:
            assert r.status == 200
            result: list[dict[str, object]] = await r.json()
            return result

    ema = await indicators("ema_crossover", {"fast": 5, "slow": 20})
    assert [(i["kind"], i["label"], i["pane"]) for i in ema] == [
        ("ema", "EMA 5", "price"),
        ("ema", "EMA 20", "price"),
    ]
    rsi = await indicators("rsi_reversion", {"oversold": 25})
    assert [(i["label"], i["pane"], i["levels"]) for i in rsi] == [("RSI 14", "oscillator", [25.0, 70.0])]
    assert [i["kind"] for i in await indicators("bollinger", {})] == ["bollinger"]
    assert await indicators("threshold", {"buy_below": 1, "sell_above": 2}) == []
    async with api.http.get(api.url("/api/v1/bots/424242/indicators"), headers=api.auth) as r:
        assert r.status == 404
