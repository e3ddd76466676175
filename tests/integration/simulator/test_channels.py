"""The market-data channels beyond ticker and heartbeats, and the user channel, over loopback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from streambot.simulator.server import REST_PREFIX, Simulator, SimulatorConfig

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coinbase"
WAIT = 10.0
Frame = dict[str, Any]


def fixture(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_text())


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(
        SimulatorConfig(
            products=("BTC-USD", "ETH-USD"),
            seed=4,
            tick_rate_scale=20.0,
            ticker_batch_interval=0.2,
            market_trades_interval=0.05,
        )
    )
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest.fixture
async def ws(sim: Simulator) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_url) as socket:
        yield socket


async def until(ws: aiohttp.ClientWebSocketResponse, ready: Callable[[Frame], bool]) -> Frame:
    while True:
        frame = orjson.loads((await asyncio.wait_for(ws.receive(), WAIT)).data)
        if ready(frame):
            return frame  # type: ignore[no-any-return]


def of(channel: str, kind: str | None = None) -> Callable[[Frame], bool]:
    def ready(frame: Frame) -> bool:
        if frame.get("channel") != channel:
            return False
        return kind is None or frame["events"][0].get("type") == kind

    return ready


async def test_level2_snapshot_then_updates_keep_a_consistent_book(
    ws: aiohttp.ClientWebSocketResponse,
) -> None:
    await ws.send_json({"type": "subscribe", "channel": "level2", "product_ids": ["BTC-USD"]})
    snapshot = await until(ws, of("l2_data", "snapshot"))
    reference = fixture("ws_level2_snapshot.json")
    assert list(snapshot) == list(reference)
    event = snapshot["events"][0]
    assert set(event) == set(reference["events"][0])
    assert set(event["updates"][0]) == set(reference["events"][0]["updates"][0])
    book = {(u["side"], u["price_level"]): u["new_quantity"] for u in event["updates"]}
    ack = await until(ws, of("subscriptions"))
    assert ack["events"][0]["subscriptions"] == {"level2": ["BTC-USD"]}
    for _ in range(5):
        update = await until(ws, of("l2_data", "update"))
        for row in update["events"][0]["updates"]:
            if row["new_quantity"] == "0":
                book.pop((row["side"], row["price_level"]), None)
            else:
                book[(row["side"], row["price_level"])] = row["new_quantity"]
        bids = [Decimal(p) for side, p in book if side == "bid"]
        asks = [Decimal(p) for side, p in book if side == "offer"]
        assert max(bids) < min(asks)  # applying every update keeps an uncrossed book


async def test_market_trades_snapshot_then_updates(ws: aiohttp.ClientWebSocketResponse) -> None:
    await ws.send_json({"type": "subscribe", "channel": "market_trades", "product_ids": ["ETH-USD"]})
    snapshot = await until(ws, of("market_trades", "snapshot"))
    assert isinstance(snapshot["events"][0]["trades"], list)  # empty until the market has traded
    update = await until(ws, of("market_trades", "update"))
    trades = update["events"][0]["trades"]
    reference = fixture("ws_market_trades.json")["events"][0]["trades"][0]
    assert trades
    assert all(set(t) == set(reference) for t in trades)
    assert {t["product_id"] for t in trades} == {"ETH-USD"}
    assert {t["side"] for t in trades} <= {"BUY", "SELL"}


async def test_ticker_batch_has_no_best_bid_or_ask(ws: aiohttp.ClientWebSocketResponse) -> None:
    await ws.send_json({"type": "subscribe", "channel": "ticker_batch", "product_ids": ["BTC-USD"]})
    snapshot = await until(ws, of("ticker_batch", "snapshot"))
    update = await until(ws, of("ticker_batch", "update"))
    for frame in (snapshot, update):
        (ticker,) = frame["events"][0]["tickers"]
        assert ticker["product_id"] == "BTC-USD"
        assert "best_bid" not in ticker
        assert "price" in ticker


async def test_user_channel_snapshot_then_order_updates(
    sim: Simulator, ws: aiohttp.ClientWebSocketResponse
) -> None:
    rest = f"{sim.rest_url}{REST_PREFIX}/orders"
    resting = {
        "client_order_id": "rest-1",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "1000.00"}},
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(rest, json=resting) as response:
            order_id = (await response.json())["success_response"]["order_id"]
        await ws.send_json({"type": "subscribe", "channel": "user", "product_ids": []})
        snapshot = await until(ws, of("user", "snapshot"))
        (order,) = snapshot["events"][0]["orders"]
        reference = fixture("ws_user_order.json")["events"][0]["orders"][0]
        assert list(order) == list(reference)
        assert (order["order_id"], order["status"], order["order_type"]) == (order_id, "OPEN", "Limit")
        await until(ws, of("subscriptions"))
        async with http.post(f"{rest}/batch_cancel", json={"order_ids": [order_id]}) as response:
            assert response.status == 200
        update = await until(ws, of("user", "update"))
    (cancelled,) = update["events"][0]["orders"]
    assert (cancelled["order_id"], cancelled["status"]) == (order_id, "CANCELLED")
    assert cancelled["leaves_quantity"] == "0"
