"""The dashboard WebSockets against a real platform and uvicorn on loopback (docs/contracts.md)."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import aiohttp
from yarl import URL

from streambot.domain import BotId, FeedState, ProductId, Side
from streambot.events import AlertRaised, FeedStateChanged, OrderUpdated, SignalRaised, TradeBooked
from tests.factories import order_record, trade_record
from tests.integration.api.conftest import Api, StartApi, close_code, next_frame


def order(bot_id: int, status: str = "filled", coid: str = "c-1") -> OrderUpdated:
    return OrderUpdated(order=order_record(bot_id, status, coid))


async def test_subprotocol_auth_says_hello_then_streams_tickers(api: Api) -> None:
    ws = await api.ws("/api/v1/ws/market?max_rate=10")
    assert ws.protocol == "streambot.v1"
    hello = await next_frame(ws)
    assert hello["type"] == "hello"
    assert hello["channel"] == "market"
    assert isinstance(hello["last_event_id"], int)
    batch = await next_frame(ws, "tickers")
    assert set(batch) == {"type", "tickers"}
    # The first batch after hello holds the current price of every product, one item each.
    products = [ticker["product_id"] for ticker in batch["tickers"]]
    assert sorted(products) == sorted(set(products))
    assert set(products) <= {"BTC-USD", "ETH-USD", "DOGE-USD"}
    ticker = batch["tickers"][0]
    assert set(ticker) == {
        "product_id",
        "price",
        "best_bid",
        "best_ask",
        "volume_24h",
        "low_24h",
        "high_24h",
        "price_change_pct_24h",
        "time",
    }
    async with api.http.get(api.url("/api/v1/ws/websocket/status"), headers=api.auth) as response:
        assert (await response.json())["active_connections"] == 1
    await ws.close()


async def test_first_message_auth_and_its_failures(api: Api) -> None:
    ws = await api.http.ws_connect(api.ws_url("/api/v1/ws/trade-execution"))
    await ws.send_str(json.dumps({"type": "auth", "token": api.token, "last_event_id": None}))
    assert (await next_frame(ws))["type"] == "hello"
    await ws.close()

    wrong = await api.http.ws_connect(api.ws_url("/api/v1/ws/trade-execution"))
    await wrong.send_str(json.dumps({"type": "auth", "token": "not-the-token"}))
    assert await close_code(wrong) == 4401

    silent = await api.http.ws_connect(api.ws_url("/api/v1/ws/status"))
    assert await close_code(silent) == 4401  # nothing sent within ws_auth_timeout_s

    garbled = await api.http.ws_connect(api.ws_url("/api/v1/ws/status"))
    await garbled.send_str("hello?")
    assert await close_code(garbled) == 4401

    bad_subprotocol = await api.ws("/api/v1/ws/market", token="nope")
    assert await close_code(bad_subprotocol) == 4401


async def test_a_foreign_origin_is_refused_and_the_own_origin_accepted(api: Api) -> None:
    foreign = await api.ws("/api/v1/ws/market", origin="https://evil.example")
    assert await close_code(foreign) == 4403
    own = await api.ws("/api/v1/ws/market", origin=api.api.url)
    assert (await next_frame(own))["type"] == "hello"
    await own.close()


async def test_a_configured_origin_is_accepted(start: StartApi) -> None:
    api = await start(cors_origins="https://dash.example")
    ws = await api.ws("/api/v1/ws/status", origin="https://dash.example")
    assert (await next_frame(ws))["type"] == "hello"
    await ws.close()


async def test_order_events_carry_consecutive_ids_and_resume_from_the_ring(api: Api) -> None:
    bus = api.platform.bus
    ws = await api.ws("/api/v1/ws/trade-execution")
    hello = await next_frame(ws)
    bus.publish(order(1, "submitted"))
    bus.publish(FeedStateChanged(state=FeedState.LIVE, reason="", since=0.0))  # not for this channel
    bus.publish(order(1))
    first = await next_frame(ws, "event")
    second = await next_frame(ws, "event")
    assert first["topic"] == "orders.submitted"
    assert first["data"]["order"]["client_order_id"] == "c-1"
    assert first["id"] > hello["last_event_id"]
    assert second["topic"] == "orders.filled"
    assert second["id"] == first["id"] + 2  # ids count every event, this channel skips feed.state
    await ws.close()

    # Missed while away: replayed after hello, in order.
    bus.publish(TradeBooked(trade=trade_record(1)))
    bus.publish(order(2, "cancelled", "c-2"))
    back = await api.ws(f"/api/v1/ws/trade-execution?last_event_id={second['id']}")
    assert (await next_frame(back))["type"] == "hello"
    replayed = [await next_frame(back, "event"), await next_frame(back, "event")]
    assert [e["topic"] for e in replayed] == ["trades.executed", "orders.cancelled"]
    assert replayed[0]["id"] == second["id"] + 1
    await back.close()

    # From before this process (or older than the ring): reset, then live.
    stale = await api.ws("/api/v1/ws/trade-execution?last_event_id=999999")
    assert (await next_frame(stale))["type"] == "hello"
    assert (await next_frame(stale))["type"] == "reset"
    await stale.close()


async def test_resume_id_in_the_auth_message(api: Api) -> None:
    bus = api.platform.bus
    bus.publish(order(1))
    current = api.platform.events.last_id
    bus.publish(order(1, coid="c-9"))
    ws = await api.http.ws_connect(api.ws_url("/api/v1/ws/trade-execution"))
    await ws.send_str(json.dumps({"type": "auth", "token": api.token, "last_event_id": current}))
    assert (await next_frame(ws))["type"] == "hello"
    event = await next_frame(ws, "event")
    assert event["data"]["order"]["client_order_id"] == "c-9"
    await ws.close()


async def test_a_bot_channel_carries_only_that_bot(api: Api) -> None:
    bots = api.platform.bots
    assert bots is not None
    bot = await bots.create(
        name="watched", strategy="threshold", product_id="ETH-USD", params={}, budget=Decimal(100)
    )
    ws = await api.ws(f"/api/v1/ws/bots/{bot.id}")
    assert (await next_frame(ws))["type"] == "hello"
    api.platform.bus.publish(order(bot.id + 1000))
    api.platform.bus.publish(
        SignalRaised(
            bot_id=BotId(bot.id), product_id=ProductId("ETH-USD"), side=Side.BUY, reason="r", price=1
        )
    )
    event = await next_frame(ws, "event")
    assert event["topic"] == "bots.signal"
    assert event["data"]["bot_id"] == bot.id
    batch = await next_frame(ws, "tickers")
    assert [ticker["product_id"] for ticker in batch["tickers"]] == ["ETH-USD"]
    await ws.close()

    missing = await api.ws("/api/v1/ws/bots/424242")
    assert await close_code(missing) == 4404


async def test_status_channel_sends_status_and_alerts(api: Api) -> None:
    ws = await api.ws("/api/v1/ws/status")
    assert (await next_frame(ws))["type"] == "hello"
    status = await next_frame(ws, "status")
    assert set(status) >= {"feed", "health", "metrics"}
    assert status["metrics"]["websocket_clients"] == 1
    api.platform.bus.publish(AlertRaised(code="feed_down", severity="critical", message="m", since=1.0))
    event = await next_frame(ws, "event")
    assert event["topic"] == "alerts.raised"
    assert event["data"]["code"] == "feed_down"
    await ws.close()


async def test_a_client_that_falls_behind_is_closed_with_4408_and_can_resume(start: StartApi) -> None:
    api = await start(ws_queue_size=3)
    ws = await api.ws("/api/v1/ws/trade-execution")
    hello = await next_frame(ws)
    # A burst published in one go reaches the hub as one batch: far more than the queue holds.
    for n in range(50):
        api.platform.bus.publish(order(1, coid=f"c-{n}"))
    assert await close_code(ws) == 4408
    assert api.platform.events.cut_off_total == 1
    assert api.platform.events.client_count == 0

    back = await api.ws(f"/api/v1/ws/trade-execution?last_event_id={hello['last_event_id']}")
    assert (await next_frame(back))["type"] == "hello"
    ids = [(await next_frame(back, "event"))["data"]["order"]["client_order_id"] for _ in range(50)]
    assert ids == [f"c-{n}" for n in range(50)]  # nothing lost
    await back.close()


async def test_the_server_pings(start: StartApi) -> None:
    api = await start(ws_ping_interval_s=0.2)
    ws = await api.ws("/api/v1/ws/trade-execution")
    assert (await next_frame(ws))["type"] == "hello"
    assert (await next_frame(ws, "ping"))["type"] == "ping"
    await ws.close()


async def test_bad_query_parameters_are_refused_with_a_reason(api: Api) -> None:
    ws = await api.ws("/api/v1/ws/market?max_rate=fast")
    message = await ws.receive()
    assert message.type is aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4400
    assert "max_rate" in str(message.extra)

    # An id is a whole number: 1.5 is refused, not rounded down to a resume point.
    fractional = await api.ws("/api/v1/ws/trade-execution?last_event_id=1.5")
    message = await fractional.receive()
    assert message.type is aiohttp.WSMsgType.CLOSE
    assert fractional.close_code == 4400
    assert "last_event_id" in str(message.extra)


async def test_a_bot_id_that_is_not_a_plain_number_is_refused_with_4400(api: Api) -> None:
    # "²" passes str.isdigit() but not int(); int() also refuses more than 4300 digits.
    for raw in ("%C2%B2", "9" * 5000, "-1", "1.0"):
        url = URL(api.ws_url(f"/api/v1/ws/bots/{raw}"), encoded=True)
        ws = await api.http.ws_connect(url, protocols=("streambot.v1", f"token.{api.token}"))
        assert await close_code(ws) == 4400, raw[:10]


async def test_tickers_are_coalesced_to_max_rate(api: Api) -> None:
    ws = await api.ws("/api/v1/ws/market?max_rate=1")
    assert (await next_frame(ws))["type"] == "hello"
    seen: dict[str, list[float]] = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 2.5
    while loop.time() < deadline:
        try:
            frame = await next_frame(ws, "tickers", within=max(0.01, deadline - loop.time()))
        except TimeoutError:
            break
        for ticker in frame["tickers"]:
            seen.setdefault(ticker["product_id"], []).append(loop.time())
    await ws.close()
    assert seen
    # At most 1 per product per second: in 2.5 s, no product more than 3 times.
    assert all(len(times) <= 3 for times in seen.values()), seen
