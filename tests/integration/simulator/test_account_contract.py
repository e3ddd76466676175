"""Contract tests of the simulator's REST side over loopback: rate limits, JWT, the persistent paper
account, partial fills, stop-limit orders and pagination."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from streambot.clock import ManualClock, SystemClock
from streambot.simulator.server import REST_PREFIX, Simulator, SimulatorConfig
from streambot.venues.coinbase.auth import CdpSigner

pytestmark = pytest.mark.integration

PRODUCTS = ("BTC-USD", "ETH-USD")
KEY_NAME = "organizations/org-1/apiKeys/key-1"


def ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def ed25519_b64() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw + public).decode()


class Client:
    def __init__(self, sim: Simulator, http: aiohttp.ClientSession, signer: CdpSigner | None = None) -> None:
        self.sim, self.http, self.signer = sim, http, signer

    def _headers(self, method: str, path: str) -> dict[str, str]:
        if self.signer is None:
            return {}
        host = self.sim.rest_url.removeprefix("http://")
        return {"Authorization": f"Bearer {self.signer.rest_jwt(method, host, REST_PREFIX + path)}"}

    async def call(
        self, method: str, path: str, body: Any = None, params: Any = None
    ) -> aiohttp.ClientResponse:
        response = await self.http.request(
            method,
            self.sim.rest_url + REST_PREFIX + path,
            data=orjson.dumps(body) if body is not None else None,
            params=params,
            headers=self._headers(method, path),
        )
        await response.read()
        return response

    async def ok(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        response = await self.call(method, path, body, params)
        assert response.status == 200, await response.text()
        return await response.json()

    async def order(
        self, client_order_id: str, side: str, config: dict[str, Any], product: str = "BTC-USD"
    ) -> Any:
        body = {
            "client_order_id": client_order_id,
            "product_id": product,
            "side": side,
            "order_configuration": config,
        }
        return await self.ok("POST", "/orders", body)

    async def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        page = await self.ok("GET", "/accounts", params={"limit": 250})
        return {
            a["currency"]: (Decimal(a["available_balance"]["value"]), Decimal(a["hold"]["value"]))
            for a in page["accounts"]
        }


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def started(**overrides: Any) -> Simulator:
    values: dict[str, Any] = {"products": PRODUCTS, "seed": 9, "synthetic": False}
    values.update(overrides)
    simulator = Simulator(SimulatorConfig(**values))
    await simulator.start()
    simulator.market.apply_external_tick("BTC-USD", "100000", "99999.99", "100000.01")
    simulator.market.apply_external_tick("ETH-USD", "3000", "2999.99", "3000.01")
    return simulator


def limit(base_size: str, price: str) -> dict[str, Any]:
    return {"limit_limit_gtc": {"base_size": base_size, "limit_price": price, "post_only": False}}


# --- rate limits ------------------------------------------------------------------------------


async def test_private_calls_beyond_30_per_second_get_coinbases_429(http: aiohttp.ClientSession) -> None:
    sim = await started()
    try:
        client = Client(sim, http)
        responses = await asyncio.gather(*(client.call("GET", "/accounts") for _ in range(90)))
        statuses = [r.status for r in responses]
        # 90 requests at once outrun a 30-deep bucket unless the machine takes over 2 s to
        # send them; the first 30 always pass.
        assert statuses.count(200) >= 30
        assert statuses.count(429) >= 1
        refused = next(r for r in responses if r.status == 429)
        assert await refused.json() == {
            "errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]
        }
        assert refused.headers["x-ratelimit-limit"] == "30"
        assert refused.headers["x-ratelimit-remaining"] == "0"
        accepted = next(r for r in responses if r.status == 200)
        assert accepted.headers["x-ratelimit-limit"] == "30"
        assert int(accepted.headers["x-ratelimit-reset"]) > 0
    finally:
        await sim.stop()


async def test_public_endpoints_have_their_own_lower_limit(http: aiohttp.ClientSession) -> None:
    sim = await started()
    try:
        client = Client(sim, http)
        responses = await asyncio.gather(*(client.call("GET", "/market/products") for _ in range(40)))
        assert [r.headers["x-ratelimit-limit"] for r in responses] == ["10"] * 40
        assert sum(r.status == 429 for r in responses) >= 1
        # The private bucket is untouched by the public storm.
        assert (await client.call("GET", "/accounts")).headers["x-ratelimit-remaining"] == "29"
    finally:
        await sim.stop()


async def test_a_client_pacing_itself_is_never_refused(http: aiohttp.ClientSession) -> None:
    sim = await started()
    try:
        client = Client(sim, http)
        for _ in range(2):
            statuses = [
                r.status for r in await asyncio.gather(*(client.call("GET", "/time") for _ in range(5)))
            ]
            assert statuses == [200] * 5
            await asyncio.sleep(0.55)  # lets the 10/s public bucket refill the 5 it gave
    finally:
        await sim.stop()


# --- JWT --------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret_factory", [ec_pem, ed25519_b64], ids=["ES256", "EdDSA"])
async def test_signed_requests_pass_and_others_get_401(
    http: aiohttp.ClientSession, secret_factory: Any
) -> None:
    secret = secret_factory()
    sim = await started(api_keys={KEY_NAME: secret})
    try:
        good = Client(sim, http, CdpSigner(KEY_NAME, secret, clock=SystemClock()))
        assert (await good.ok("GET", "/accounts"))["accounts"]
        wrong_key = Client(sim, http, CdpSigner(KEY_NAME, secret_factory(), clock=SystemClock()))
        unknown = Client(sim, http, CdpSigner("organizations/x/apiKeys/y", secret, clock=SystemClock()))
        for client in (Client(sim, http), wrong_key, unknown):
            response = await client.call("GET", "/accounts")
            assert response.status == 401
            assert await response.text() == "Unauthorized\n"
        # A token minted for another path is refused: the uri claim names the request.
        host = sim.rest_url.removeprefix("http://")
        token = CdpSigner(KEY_NAME, secret, clock=SystemClock()).rest_jwt(
            "GET", host, REST_PREFIX + "/orders/historical/batch"
        )
        async with http.get(
            f"{sim.rest_url}{REST_PREFIX}/accounts", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status == 401
        # Public endpoints need no token.
        assert (await Client(sim, http).call("GET", "/market/products")).status == 200
    finally:
        await sim.stop()


async def test_an_expired_token_is_refused(http: aiohttp.ClientSession) -> None:
    secret = ec_pem()
    sim = await started(api_keys={KEY_NAME: secret})
    try:
        old = Client(
            sim, http, CdpSigner(KEY_NAME, secret, clock=ManualClock(datetime.fromtimestamp(1_000_000, UTC)))
        )
        assert (await old.call("GET", "/accounts")).status == 401
    finally:
        await sim.stop()


async def test_the_user_channel_needs_a_valid_token_when_keys_are_set(http: aiohttp.ClientSession) -> None:
    secret = ec_pem()
    sim = await started(api_keys={KEY_NAME: secret})
    try:
        async with http.ws_connect(sim.ws_url) as ws:
            await ws.send_json({"type": "subscribe", "channel": "user", "product_ids": [], "jwt": "nope"})
            assert await asyncio.wait_for(ws.receive_json(), 10) == {
                "type": "error",
                "message": "authentication failure",
            }
            token = CdpSigner(KEY_NAME, secret, clock=SystemClock()).ws_jwt()
            await ws.send_json({"type": "subscribe", "channel": "user", "product_ids": [], "jwt": token})
            first = await asyncio.wait_for(ws.receive_json(), 10)
            assert (first["channel"], first["events"][0]["type"]) == ("user", "snapshot")
    finally:
        await sim.stop()


# --- the persistent paper account ----------------------------------------------------------------


async def test_the_account_survives_a_restart(http: aiohttp.ClientSession, tmp_path: Path) -> None:
    state = tmp_path / "paper_account.db"
    sim = await started(state_path=state)
    try:
        client = Client(sim, http)
        bought = await client.order("buy-1", "BUY", {"market_market_ioc": {"quote_size": "1000"}})
        resting = await client.order("rest-1", "BUY", limit("0.001", "90000.00"))
        before = await client.balances()
        fills_before = await client.ok("GET", "/orders/historical/fills")
        open_before = await client.ok("GET", "/orders/historical/batch", params={"order_status": "OPEN"})
    finally:
        await sim.stop()

    sim = await started(state_path=state)
    try:
        client = Client(sim, http)
        assert await client.balances() == before
        assert before["USD"][1] > 0  # the resting order's hold came back too
        assert await client.ok("GET", "/orders/historical/fills") == fills_before
        assert (
            await client.ok("GET", "/orders/historical/batch", params={"order_status": "OPEN"}) == open_before
        )
        # client_order_id idempotency holds across the restart.
        again = await client.order("buy-1", "BUY", {"market_market_ioc": {"quote_size": "1000"}})
        assert again["success_response"]["order_id"] == bought["success_response"]["order_id"]
        assert await client.balances() == before
        # The restored resting order still fills when the price comes down to it.
        sim.market.apply_external_tick("BTC-USD", "89000", "88999.99", "89000.00")
        order = (await client.ok("GET", f"/orders/historical/{resting['success_response']['order_id']}"))[
            "order"
        ]
        assert order["status"] == "FILLED"
        new = await client.order("buy-2", "BUY", {"market_market_ioc": {"quote_size": "10"}})
        assert new["success_response"]["order_id"] not in {
            bought["success_response"]["order_id"],
            resting["success_response"]["order_id"],
        }
    finally:
        await sim.stop()


async def test_an_acknowledged_order_is_on_disk_before_the_answer(
    http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    import sqlite3

    state = tmp_path / "paper_account.db"
    sim = await started(state_path=state)
    try:
        await Client(sim, http).order("durable-1", "BUY", limit("0.001", "90000.00"))
        # Read by a separate connection while the simulator still runs (as after a SIGKILL).
        with sqlite3.connect(state) as db:
            rows = db.execute("SELECT status FROM orders WHERE client_order_id = 'durable-1'").fetchall()
        assert rows == [("OPEN",)]
    finally:
        await sim.stop()


# --- matching -----------------------------------------------------------------------------------


async def test_a_large_resting_order_fills_in_parts_as_the_price_crosses(http: aiohttp.ClientSession) -> None:
    sim = await started()
    try:
        client = Client(sim, http)
        placed = await client.order("big-1", "BUY", limit("0.05", "95000.00"))
        order_id = placed["success_response"]["order_id"]
        _, hold_before = (await client.balances())["USD"]
        sim.market.apply_external_tick(
            "BTC-USD", "94999", "94998.00", "94999.00", best_bid_quantity="1", best_ask_quantity="0.02"
        )
        order = (await client.ok("GET", f"/orders/historical/{order_id}"))["order"]
        assert (order["status"], order["filled_size"], order["number_of_fills"]) == ("OPEN", "0.02", "1")
        assert order["completion_percentage"] == "40"
        _, hold_partial = (await client.balances())["USD"]
        assert 0 < hold_partial < hold_before
        for _ in range(2):
            sim.market.apply_external_tick(
                "BTC-USD", "94999", "94998.00", "94999.00", best_bid_quantity="1", best_ask_quantity="0.02"
            )
        order = (await client.ok("GET", f"/orders/historical/{order_id}"))["order"]
        assert (order["status"], order["filled_size"], order["number_of_fills"]) == ("FILLED", "0.05", "3")
        assert (await client.balances())["USD"][1] == 0
        fills = (await client.ok("GET", "/orders/historical/fills", params={"order_ids": order_id}))["fills"]
        assert [f["size"] for f in fills] == ["0.01", "0.02", "0.02"]  # newest first
        assert {f["liquidity_indicator"] for f in fills} == {"MAKER"}
    finally:
        await sim.stop()


async def test_a_stop_limit_waits_for_its_stop_then_works_as_a_limit(http: aiohttp.ClientSession) -> None:
    sim = await started()
    try:
        client = Client(sim, http)
        config = {
            "stop_limit_stop_limit_gtc": {
                "base_size": "0.001",
                "limit_price": "98000.00",
                "stop_price": "98500.00",
                "stop_direction": "STOP_DIRECTION_STOP_DOWN",
            }
        }
        await client.order("buy-btc", "BUY", {"market_market_ioc": {"quote_size": "500"}})
        placed = await client.order("stop-1", "SELL", config)
        assert placed["success"] is True
        order_id = placed["success_response"]["order_id"]
        order = (await client.ok("GET", f"/orders/historical/{order_id}"))["order"]
        assert (order["order_type"], order["status"], order["trigger_status"]) == (
            "STOP_LIMIT",
            "OPEN",
            "STOP_PENDING",
        )
        assert (await client.balances())["BTC"][1] == Decimal("0.001")
        sim.market.apply_external_tick("BTC-USD", "98400", "98399.99", "98400.01")
        order = (await client.ok("GET", f"/orders/historical/{order_id}"))["order"]
        assert (order["status"], order["trigger_status"]) == ("FILLED", "STOP_TRIGGERED")
        assert order["average_filled_price"] == "98399.99"  # the bid it crossed, as taker
    finally:
        await sim.stop()


async def test_orders_and_fills_page_with_cursors_until_has_next_is_false(
    http: aiohttp.ClientSession,
) -> None:
    sim = await started()
    try:
        client = Client(sim, http)
        for index in range(7):
            await client.order(f"page-{index}", "BUY", {"market_market_ioc": {"quote_size": "10"}})
        seen: list[str] = []
        cursor = ""
        while True:
            page = await client.ok("GET", "/orders/historical/batch", params={"limit": 3, "cursor": cursor})
            seen += [o["client_order_id"] for o in page["orders"]]
            if not page["has_next"]:
                assert page["cursor"] == ""
                break
            cursor = page["cursor"]
        assert seen == [f"page-{i}" for i in reversed(range(7))]
        fills: list[str] = []
        cursor = ""
        while True:
            page = await client.ok("GET", "/orders/historical/fills", params={"limit": 2, "cursor": cursor})
            fills += [f["trade_id"] for f in page["fills"]]
            if not page["cursor"]:
                break
            cursor = page["cursor"]
        assert len(fills) == len(set(fills)) == 7
    finally:
        await sim.stop()
