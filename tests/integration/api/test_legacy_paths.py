"""The old bot's paths answer as the /api/v1/ws/ routes they alias, with the same auth."""

from __future__ import annotations

from decimal import Decimal

from tests.integration.api.conftest import Api, close_code, next_frame


async def test_http_aliases_answer_as_the_api_v1_routes(api: Api) -> None:
    bot = await api.platform.bots.create(
        name="Old habits", strategy="threshold", product_id="ETH-USD", params={}, budget=Decimal(100)
    )
    await api.platform.bots.start(bot.id)
    for path in (f"/ws/stop-streaming/{bot.id}", f"/ws/start-streaming/{bot.id}"):
        async with api.http.post(api.url(path)) as response:
            assert response.status == 401, path
        async with api.http.post(api.url(path), headers=api.auth) as response:
            assert response.status == 200, path
            body = await response.json()
        assert body["bot_id"] == bot.id
        assert body["streaming"] is path.startswith("/ws/start")
        assert (await api.platform.bots.get(bot.id)).streaming is body["streaming"]
    async with api.http.post(api.url("/ws/stop-streaming/99999"), headers=api.auth) as response:
        assert response.status == 404

    async with api.http.get(api.url("/ws/streaming-status")) as response:
        assert response.status == 401
    async with api.http.get(api.url("/ws/streaming-status"), headers=api.auth) as response:
        old = await response.json()
    async with api.http.get(api.url("/api/v1/ws/streaming-status"), headers=api.auth) as response:
        new = await response.json()
    assert old == new
    assert old["active_streams"] == 1
    assert [row["bot_id"] for row in old["bots"]] == [bot.id]


async def test_websocket_aliases_stream_as_the_api_v1_ones(api: Api) -> None:
    bot = await api.platform.bots.create(
        name="Old habits", strategy="threshold", product_id="ETH-USD", params={}, budget=Decimal(100)
    )
    trades = await api.ws("/ws/trade-execution")
    hello = await next_frame(trades)
    assert hello["type"] == "hello"
    assert hello["channel"] == "trade-execution"
    await trades.close()

    channel = await api.ws(f"/ws/{bot.id}")
    hello = await next_frame(channel)
    assert hello["channel"] == "bots"
    await channel.close()

    missing = await api.ws("/ws/99999")
    assert await close_code(missing) == 4404
    wrong = await api.ws("/ws/trade-execution", token="wrong")
    assert await close_code(wrong) == 4401
