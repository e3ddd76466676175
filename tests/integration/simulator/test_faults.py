"""Fault injection over loopback: the admin endpoint, the in-process API and what clients then see."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType

from streambot.simulator.faults import parse_fault_flag
from streambot.simulator.server import REST_PREFIX, Simulator, SimulatorConfig

pytestmark = pytest.mark.integration

WAIT = 10.0  # upper bound for awaited conditions, never an asserted duration
PRODUCTS = ("BTC-USD", "ETH-USD")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(
        SimulatorConfig(products=PRODUCTS, seed=5, tick_rate_scale=20.0, heartbeat_interval=0.05)
    )
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def subscribed(sim: Simulator, http: aiohttp.ClientSession) -> aiohttp.ClientWebSocketResponse:
    ws = await http.ws_connect(sim.ws_url)
    await ws.send_json({"type": "subscribe", "channel": "heartbeats", "product_ids": []})
    while (await frame(ws)).get("channel") != "subscriptions":
        pass
    return ws


async def frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.receive(), WAIT)
    assert message.type is WSMsgType.TEXT, message
    decoded = orjson.loads(message.data)
    assert isinstance(decoded, dict)
    return decoded


async def admin(
    http: aiohttp.ClientSession, sim: Simulator, method: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, f"{sim.rest_url}/sim/faults", json=body) as response:
        return response.status, await response.json()


async def test_drop_connections_aborts_every_socket(sim: Simulator, http: aiohttp.ClientSession) -> None:
    first, second = await subscribed(sim, http), await subscribed(sim, http)
    status, body = await admin(http, sim, "POST", {"fault": "drop_connections"})
    assert status == 200
    assert body["injected"] == {"fault": "drop_connections", "code": None, "connections": 2}
    for ws in (first, second):
        while True:
            message = await asyncio.wait_for(ws.receive(), WAIT)
            if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
                break
        # An abort, not a close handshake: clients see an abnormal close and reconnect.
        assert ws.close_code != 1000
    again = await subscribed(sim, http)  # the server itself keeps accepting
    await again.close()


async def test_drop_connections_with_a_code_closes_cleanly(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    ws = await subscribed(sim, http)
    sim.faults.inject("drop_connections", code=1000)
    while (await asyncio.wait_for(ws.receive(), WAIT)).type is WSMsgType.TEXT:
        pass
    assert ws.close_code == 1000


async def test_silence_keeps_the_socket_open_and_sends_nothing(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    ws = await subscribed(sim, http)
    before = (await frame(ws))["events"][0]["heartbeat_counter"]
    status, body = await admin(http, sim, "POST", {"fault": "silence", "seconds": 0.5})
    assert status == 200
    assert body["faults"][0]["fault"] == "silence"
    # Frames already queued may still drain; after that nothing until the silence ends.
    sequence = None
    while True:
        message = await frame(ws)
        if sequence is not None and message["sequence_num"] != sequence + 1:
            pytest.fail("sequence numbers must stay contiguous across a silence")
        sequence = message["sequence_num"]
        counter = message["events"][0]["heartbeat_counter"]
        if counter > before + 3:
            break
    # The server's heartbeat counter kept going while it was silent: the client sees the jump.
    assert sim.faults.active() == []
    assert not ws.closed
    await ws.close()


async def test_skip_sequence_jumps_the_next_frame(sim: Simulator, http: aiohttp.ClientSession) -> None:
    ws = await subscribed(sim, http)
    last = (await frame(ws))["sequence_num"]
    sim.faults.inject(fault="skip_sequence", count=7)
    numbers = [last]
    while len(numbers) < 4:
        numbers.append((await frame(ws))["sequence_num"])
    steps = [b - a for a, b in itertools.pairwise(numbers)]
    assert sorted(steps) == [1, 1, 8]  # one jump of 7 skipped numbers, wherever it landed
    await ws.close()


async def test_malformed_frames_arrive_and_the_stream_goes_on(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    ws = await subscribed(sim, http)
    status, body = await admin(http, sim, "POST", {"fault": "malformed", "count": 3})
    assert (status, body["injected"]["connections"]) == (200, 1)
    bad = 0
    while True:
        message = await asyncio.wait_for(ws.receive(), WAIT)
        assert message.type is WSMsgType.TEXT
        try:
            decoded = orjson.loads(message.data)
        except orjson.JSONDecodeError:
            bad += 1
            continue
        if not isinstance(decoded, dict) or not isinstance(decoded.get("events"), list):
            bad += 1
            continue
        if bad == 3:
            break  # a well-formed frame after the three broken ones
    await ws.close()


@pytest.mark.parametrize(("status", "html"), [(429, False), (429, True), (503, False), (500, True)])
async def test_http_error_answers_that_status_for_a_while(
    sim: Simulator, http: aiohttp.ClientSession, status: int, html: bool
) -> None:
    sim.faults.inject({"fault": "http_error", "status": status, "seconds": 30, "html": html})
    async with http.get(f"{sim.rest_url}{REST_PREFIX}/accounts") as response:
        assert response.status == status
        assert response.content_type == ("text/html" if html else "application/json")
        if status == 429:
            assert response.headers["x-ratelimit-remaining"] == "0"
            assert int(response.headers["x-ratelimit-limit"]) == 30
            assert int(response.headers["x-ratelimit-reset"]) > 0
            if not html:
                assert await response.json() == {
                    "errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]
                }
        elif not html:
            assert set(await response.json()) == {"error", "error_details", "message"}
    # The admin API is never subject to the fault, and clearing ends it at once.
    status_code, body = await admin(http, sim, "DELETE")
    assert (status_code, body) == (200, {"cleared": 1, "faults": []})
    async with http.get(f"{sim.rest_url}{REST_PREFIX}/accounts") as response:
        assert response.status == 200


async def test_http_error_ends_by_itself(sim: Simulator, http: aiohttp.ClientSession) -> None:
    sim.faults.inject("http_error", status=502, seconds=0.2)
    for _ in range(int(WAIT / 0.05)):
        async with http.get(f"{sim.rest_url}{REST_PREFIX}/time") as response:
            if response.status == 200:
                break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the http_error fault never ended")
    assert sim.faults.active() == []


async def test_latency_delays_rest_and_ws_but_keeps_order(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    ws = await subscribed(sim, http)
    status, body = await admin(http, sim, "POST", {"fault": "latency", "ms": 50, "seconds": 30})
    assert status == 200
    (listed,) = body["faults"]
    assert listed["fault"] == "latency"
    assert listed["ms"] == 50
    assert 0 < listed["remaining"] <= 30
    async with http.get(f"{sim.rest_url}{REST_PREFIX}/time") as response:
        assert response.status == 200
    numbers = [(await frame(ws))["sequence_num"] for _ in range(5)]
    assert numbers == sorted(numbers)
    await ws.close()


async def test_get_lists_only_timed_faults_and_bad_requests_name_the_problem(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    assert await admin(http, sim, "GET") == (200, {"faults": []})
    for body, words in [
        ({"fault": "meteor"}, "fault must be one of"),
        ({"fault": "silence"}, "seconds"),
        ({"fault": "http_error", "status": 404, "seconds": 1}, "status"),
        ({"fault": "latency", "ms": 10, "seconds": 1, "jitter": 3}, "jitter"),
        ([1, 2], "JSON object"),
    ]:
        status, answer = await admin(http, sim, "POST", body)
        assert status == 400, body
        assert words in answer["message"], answer


async def test_faults_given_at_start_are_active_at_once(http: aiohttp.ClientSession) -> None:
    fault = parse_fault_flag("http_error:status=503,seconds=30")
    simulator = Simulator(SimulatorConfig(products=PRODUCTS, seed=1, faults=(fault,)))
    await simulator.start()
    try:
        async with http.get(f"{simulator.rest_url}{REST_PREFIX}/accounts") as response:
            assert response.status == 503
        assert [f["fault"] for f in simulator.faults.active()] == ["http_error"]
    finally:
        await simulator.stop()


@pytest.mark.parametrize("finish", [True, False])
async def test_a_create_whose_client_gave_up_is_finished_like_the_exchange_would(
    http: aiohttp.ClientSession, finish: bool
) -> None:
    simulator = Simulator(SimulatorConfig(products=PRODUCTS, seed=5, finish_abandoned_requests=finish))
    await simulator.start()
    try:
        simulator.faults.inject("latency", ms=400, seconds=30)
        body = {
            "client_order_id": "gave-up-1",
            "product_id": "BTC-USD",
            "side": "BUY",
            "order_configuration": {"market_market_ioc": {"quote_size": "25"}},
        }
        with pytest.raises(TimeoutError):
            await http.post(
                f"{simulator.rest_url}{REST_PREFIX}/orders",
                json=body,
                timeout=aiohttp.ClientTimeout(total=0.1),
            )
        simulator.faults.clear()
        await asyncio.sleep(0.6)  # past the latency the create was waiting out
        async with http.get(f"{simulator.rest_url}{REST_PREFIX}/orders/historical/batch") as response:
            orders = (await response.json())["orders"]
        assert [o["client_order_id"] for o in orders] == (["gave-up-1"] if finish else [])
        if finish:
            assert orders[0]["status"] == "FILLED"
    finally:
        await simulator.stop()


async def test_slow_response_answers_late_what_it_did_at_once(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.faults.inject("slow_response", ms=500, seconds=30, writes_only=True)
    body = {
        "client_order_id": "slow-1",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {"market_market_ioc": {"quote_size": "25"}},
    }
    with pytest.raises(TimeoutError):
        await http.post(
            f"{sim.rest_url}{REST_PREFIX}/orders", json=body, timeout=aiohttp.ClientTimeout(total=0.1)
        )
    # Reads are not held back: the order is there already.
    async with http.get(f"{sim.rest_url}{REST_PREFIX}/orders/historical/batch") as response:
        orders = (await response.json())["orders"]
    assert [o["client_order_id"] for o in orders] == ["slow-1"]
    assert parse_fault_flag("slow_response:ms=10,seconds=1,writes_only=true").fault == "slow_response"


async def test_reject_orders_refuses_creates_like_coinbase_and_creates_nothing(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    status, _ = await admin(http, sim, "POST", {"fault": "reject_orders", "seconds": 30})
    assert status == 200
    body = {
        "client_order_id": "refused-1",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {"market_market_ioc": {"quote_size": "25"}},
    }
    async with http.post(f"{sim.rest_url}{REST_PREFIX}/orders", json=body) as response:
        assert response.status == 200
        answer = await response.json()
    assert answer["success"] is False
    assert answer["error_response"]["error"] == "INSUFFICIENT_FUND"
    async with http.get(f"{sim.rest_url}{REST_PREFIX}/accounts") as response:
        assert response.status == 200  # everything else is served
    await admin(http, sim, "DELETE")
    async with http.get(f"{sim.rest_url}{REST_PREFIX}/orders/historical/batch") as response:
        assert (await response.json())["orders"] == []
    async with http.post(f"{sim.rest_url}{REST_PREFIX}/orders", json=body) as response:
        assert (await response.json())["success"] is True


async def test_the_simulators_own_429s_are_counted_apart_from_injected_ones(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    sim.faults.inject("http_error", status=429, seconds=30)
    async with http.get(f"{sim.rest_url}{REST_PREFIX}/accounts") as response:
        assert response.status == 429
    assert sim.rate_limited == 0  # injected: not the client's doing
    sim.faults.clear()
    statuses = []
    for _ in range(40):  # over the 30/s private limit at once
        async with http.get(f"{sim.rest_url}{REST_PREFIX}/accounts") as response:
            statuses.append(response.status)
    assert sim.rate_limited == statuses.count(429) > 0


async def test_partial_fills_fill_an_order_in_pieces_over_time_as_coinbase_reports_them(
    sim: Simulator, http: aiohttp.ClientSession
) -> None:
    status, answer = await admin(
        http, sim, "POST", {"fault": "partial_fills", "pieces": 3, "spread_ms": 200, "seconds": 30}
    )
    assert status == 200
    assert answer["injected"]["pieces"] == 3
    ws = await http.ws_connect(sim.ws_url)
    await ws.send_json({"type": "subscribe", "channel": "user", "product_ids": []})
    while (await frame(ws)).get("channel") != "user":
        pass  # the snapshot
    body = {
        "client_order_id": "pieces-1",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_configuration": {"market_market_ioc": {"quote_size": "300"}},
    }
    async with http.post(f"{sim.rest_url}{REST_PREFIX}/orders", json=body) as response:
        order_id = (await response.json())["success_response"]["order_id"]
    updates: list[dict[str, Any]] = []
    while not updates or updates[-1]["status"] != "FILLED":
        message = await frame(ws)
        if message.get("channel") == "user":
            updates += [o for e in message["events"] for o in e["orders"] if o["order_id"] == order_id]
    # OPEN with a growing filled size, piece by piece, then FILLED: one update per piece.
    assert [u["status"] for u in updates] == ["OPEN", "OPEN", "FILLED"]
    filled = [Decimal(u["cumulative_quantity"]) for u in updates]
    assert filled == sorted(filled)
    assert filled[0] > 0
    assert len(set(filled)) == 3
    await ws.close()
    async with http.get(f"{sim.rest_url}{REST_PREFIX}/orders/historical/{order_id}") as response:
        order = (await response.json())["order"]
    async with http.get(
        f"{sim.rest_url}{REST_PREFIX}/orders/historical/fills", params={"order_ids": order_id}
    ) as response:
        fills = (await response.json())["fills"]
    assert order["status"] == "FILLED"
    assert order["number_of_fills"] == "3"
    assert len(fills) == 3
    assert len({f["trade_id"] for f in fills}) == 3
    assert all(f["size_in_quote"] for f in fills)  # sizes in USD, as Coinbase reports them
    base = sum(Decimal(f["size"]) / Decimal(f["price"]) for f in fills)
    assert abs(base - Decimal(order["filled_size"])) < Decimal("1e-12")
    assert sum(Decimal(f["commission"]) for f in fills) == Decimal(order["total_fees"])
    assert Decimal(order["filled_value"]) + Decimal(order["total_fees"]) <= Decimal(300)
