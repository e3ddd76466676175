"""Bad input over HTTP: bounded budgets, strict booleans, bodies over the limit refused unread."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from decimal import Decimal

from streambot.domain import BotId
from tests.integration.api.conftest import Api, StartApi

BOT = {"name": "b", "strategy": "threshold", "product_id": "BTC-USD", "params": {}}


async def test_a_budget_above_the_maximum_is_a_422_naming_the_field_and_the_maximum(api: Api) -> None:
    for budget in (1e308, "1e308", 1_000_001):
        async with api.http.post(
            api.url("/api/v1/bots"), headers=api.auth, json={**BOT, "budget": budget}
        ) as response:
            assert response.status == 422, budget
            [error] = (await response.json())["detail"]
            assert error["loc"] == ["body", "budget"]
            assert "at most 1000000 (STREAMBOT_MAX_BOT_BUDGET)" in error["msg"]
    async with api.http.post(
        api.url("/api/v1/bots"), headers=api.auth, json={**BOT, "budget": 1_000_000}
    ) as response:
        assert response.status == 201
        bot_id = (await response.json())["id"]
    async with api.http.patch(
        api.url(f"/api/v1/bots/{bot_id}"), headers=api.auth, json={"budget": "2e6"}
    ) as response:
        assert response.status == 422
        assert (await response.json())["detail"][0]["loc"] == ["body", "budget"]
    async with api.http.patch(api.url("/api/v1/bots/424242"), headers=api.auth, json={"budget": "2e6"}) as r:
        assert r.status == 404  # which bot first, then what is wrong with the change
    assert len(await api.platform.bots.list()) == 1


async def test_the_maximum_is_configured(start: StartApi) -> None:
    api = await start(max_bot_budget=Decimal(250))
    async with api.http.post(api.url("/api/v1/bots"), headers=api.auth, json={**BOT, "budget": 251}) as r:
        assert r.status == 422
        assert "at most 250 (STREAMBOT_MAX_BOT_BUDGET), not 251" in (await r.json())["detail"][0]["msg"]


async def test_pnl_answers_even_for_a_bot_stored_with_a_huge_budget(api: Api) -> None:
    # Stored before budgets were bounded (or straight through the manager): P&L still answers.
    record = await api.platform.bots.create(
        name="huge", strategy="threshold", product_id="BTC-USD", params={}, budget=Decimal("1e308")
    )
    for path in ("/api/v1/pnl", "/api/v1/bots/status/enhanced", f"/api/v1/bots/{record.id}"):
        async with api.http.get(api.url(path), headers=api.auth) as response:
            assert response.status == 200, path
    await api.platform.bots.delete(BotId(record.id))


async def test_booleans_in_bodies_are_strict(api: Api) -> None:
    url = api.url("/api/v1/risk/kill-switch")
    for value in ("yes", "true", 1, 0, "on", None):
        async with api.http.post(url, headers=api.auth, json={"on": value}) as response:
            assert response.status == 422, value
            assert (await response.json())["detail"][0]["loc"] == ["body", "on"]
    assert not api.platform.trading.risk.account.kill_switch
    async with api.http.post(url, headers=api.auth, json={"on": True, "reason": "test"}) as response:
        assert response.status == 200
    assert api.platform.trading.risk.account.kill_switch
    async with api.http.post(url, headers=api.auth, json={"on": False}) as response:
        assert response.status == 200


async def test_a_body_over_the_limit_is_refused_unread(api: Api) -> None:
    big = b'{"name": "' + b"x" * (10 * 1024 * 1024) + b'"}'
    headers = {**api.auth, "Content-Type": "application/json"}
    async with api.http.post(api.url("/api/v1/bots"), headers=headers, data=io.BytesIO(big)) as response:
        assert response.status == 413
        assert "larger than 1048576 bytes" in (await response.json())["detail"]

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it is read
        yield b'{"name": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    async with api.http.post(api.url("/api/v1/bots"), headers=headers, data=chunks()) as response:
        assert response.status == 413, await response.text()
    # Just under the limit is read and parsed as usual (and refused for what it says).
    fits = b'{"name": "' + b"x" * 1_000_000 + b'"}'
    async with api.http.post(api.url("/api/v1/bots"), headers=headers, data=fits) as response:
        assert response.status == 422
    async with api.http.get(api.url("/api/v1/bots"), headers=api.auth) as response:
        assert response.status == 200
