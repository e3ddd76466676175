"""The REST client under load and failure, against the simulator and a scripted server on loopback.

Rate limiting (no lost request, no 429 of our own making), the circuit breaker, candles, listing
and batch endpoints, and the balance cache under a thousand bot-like tasks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from streambot.clock import SystemClock
from streambot.domain import ClientOrderId, ExchangeOrderStatus, OrderRequest, Side, Timeframe
from streambot.exchange import ExchangeError, OrderOutcomeUnknown
from streambot.simulator.server import Simulator, SimulatorConfig
from streambot.trading.balances import BalanceCache
from streambot.venues.coinbase.breaker import BreakerState, CircuitBreaker, CircuitOpen
from streambot.venues.coinbase.client import CoinbaseRest, endpoint_label

pytestmark = pytest.mark.integration

PRODUCTS = ("BTC-USD", "ETH-USD")
WAIT = 30.0


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    simulator = Simulator(SimulatorConfig(products=PRODUCTS, seed=11))
    await simulator.start("127.0.0.1", 0)
    try:
        yield simulator
    finally:
        await simulator.stop()


async def inject(sim: Simulator, fault: dict[str, Any]) -> None:
    """Through the admin HTTP endpoint, as a user rehearsing a failure would."""
    base = sim.rest_url.rstrip("/")
    async with aiohttp.ClientSession() as http, http.post(f"{base}/sim/faults", json=fault) as response:
        assert response.status == 200, await response.text()


def statuses(client: CoinbaseRest, status: int) -> int:
    return sum(n for (_, code), n in client.requests.items() if code == status)


# --- candles and listings against the simulator -----------------------------------------------


async def test_candles_oldest_first_within_the_range_and_paged(rest: CoinbaseRest) -> None:
    end = int(time.time()) // 60 * 60
    start = end - 700 * 60  # more than one request's worth: three pages
    candles = await rest.candles("BTC-USD", Timeframe.ONE_MINUTE, start, end)
    assert len(candles) == 700
    assert [c.start for c in candles] == list(range(start, end, 60))
    assert all(
        c.seconds == 60 and c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in candles
    )
    assert statuses(rest, 200) == 3

    end5 = end // 300 * 300
    five = await rest.candles("ETH-USD", Timeframe.FIVE_MINUTES, end5 - 3000, end5)
    assert [c.start for c in five] == list(range(end5 - 3000, end5, 300))

    with pytest.raises(ExchangeError, match="timeframe must be one of"):
        await rest.candles("BTC-USD", "2m", start, end)  # type: ignore[arg-type]
    assert await rest.candles("BTC-USD", Timeframe.ONE_MINUTE, end, end) == []


async def test_list_orders_and_batch_cancel(sim: Simulator, rest: CoinbaseRest) -> None:
    sim.market.apply_external_tick("BTC-USD", "100000", "99999.99", "100000.01")
    placed = [
        await rest.place_order(
            OrderRequest(
                ClientOrderId(f"rest-{i}"),
                "BTC-USD",
                Side.BUY,
                base_size=Decimal("0.001"),
                limit_price=Decimal(50000 + i),
            )
        )
        for i in range(3)
    ]
    assert all(p.success for p in placed)
    open_orders = await rest.list_orders(product_ids=["BTC-USD"], statuses=[ExchangeOrderStatus.OPEN])
    assert {o.order_id for o in open_orders} >= {p.order_id for p in placed}

    outcome = await rest.cancel_orders([p.order_id for p in placed] + ["no-such-order"])
    assert outcome == {**{p.order_id: True for p in placed}, "no-such-order": False}
    still_open = await rest.list_orders(product_ids=["BTC-USD"], statuses=[ExchangeOrderStatus.OPEN])
    assert not {o.order_id for o in still_open} & {p.order_id for p in placed}


def test_endpoint_labels_have_no_ids() -> None:
    assert endpoint_label("/products/BTC-USD/candles") == "/products/{product_id}/candles"
    assert endpoint_label("/orders/historical/abc-123") == "/orders/historical/{order_id}"
    assert endpoint_label("/orders/historical/batch") == "/orders/historical/batch"
    assert endpoint_label("/orders/historical/fills") == "/orders/historical/fills"
    assert endpoint_label("/accounts") == "/accounts"


# --- rate limits -------------------------------------------------------------------------------


async def test_a_burst_far_over_the_limit_is_queued_never_refused(rest: CoinbaseRest) -> None:
    # 50 concurrent reads against a 30/s limit: the simulator refuses any request over its bucket,
    # so a single 429 here would be one the platform caused.
    results = await asyncio.gather(*(rest.best_bid_ask(["BTC-USD"]) for _ in range(50)))
    assert all(r[0].product_id == "BTC-USD" for r in results)
    assert rest.rate_limited == 0
    assert statuses(rest, 429) == 0
    assert rest.private_limiter.waits > 0  # the limiter, not the server, did the pacing


async def test_a_429_storm_loses_no_request(sim: Simulator) -> None:
    client = CoinbaseRest(sim.rest_url, clock=SystemClock())
    try:
        await inject(sim, {"fault": "http_error", "status": 429, "seconds": 1.0})
        html_storm = asyncio.create_task(client.accounts())
        reads = [client.best_bid_ask(["ETH-USD"]) for _ in range(20)]
        results = await asyncio.gather(*reads)
        assert len(results) == 20
        assert all(r for r in results)
        assert await html_storm
        assert client.rate_limited >= 1  # the storm was real
        assert statuses(client, 200) == 21  # and every request got through in the end
        # Every 429 came from the injected window, none from our own pace.
        assert client.private_limiter.pauses >= 1

        await inject(sim, {"fault": "http_error", "status": 429, "seconds": 0.5, "html": True})
        placed = await client.place_order(
            OrderRequest(ClientOrderId("storm-1"), "BTC-USD", Side.BUY, quote_size=Decimal(10))
        )
        assert placed.success
    finally:
        await client.close()


# --- circuit breaker ---------------------------------------------------------------------------


@pytest.fixture
async def flaky() -> AsyncIterator[tuple[dict[str, int], Callable[..., Awaitable[CoinbaseRest]]]]:
    """A server answering 503 while ``mode["down"]`` is set, else a valid empty answer."""
    mode = {"down": 1, "orders": 0}
    runners: list[web.AppRunner] = []
    clients: list[CoinbaseRest] = []

    async def accounts(_: web.Request) -> web.Response:
        if mode["down"]:
            return web.Response(status=503, text="unavailable")
        return web.Response(
            body=orjson.dumps({"accounts": [], "has_next": False}), content_type="application/json"
        )

    async def orders(_: web.Request) -> web.Response:
        mode["orders"] += 1
        return web.Response(status=503, text="unavailable")

    async def make(**options: Any) -> CoinbaseRest:
        app = web.Application()
        app.router.add_get("/api/v3/brokerage/accounts", accounts)
        app.router.add_post("/api/v3/brokerage/orders", orders)
        runner = web.AppRunner(app, shutdown_timeout=0.2)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        runners.append(runner)
        client = CoinbaseRest(
            f"http://127.0.0.1:{runner.addresses[0][1]}", clock=SystemClock(), timeout=2.0, **options
        )
        clients.append(client)
        return client

    yield mode, make
    for client in clients:
        await client.close()
    for runner in runners:
        await runner.cleanup()


async def test_the_circuit_opens_refuses_entries_then_probes_and_closes(
    flaky: tuple[dict[str, int], Callable[..., Awaitable[CoinbaseRest]]],
) -> None:
    mode, make = flaky
    changes: list[BreakerState] = []
    breaker = CircuitBreaker(
        clock=SystemClock(), threshold=3, cooldown=0.2, on_change=lambda state, _: changes.append(state)
    )
    client = await make(breaker=breaker, read_attempts=1)

    for _ in range(3):
        with pytest.raises(ExchangeError):
            await client.accounts()
    assert breaker.state == "open"

    sent_before = mode["orders"]
    with pytest.raises(CircuitOpen) as refused:
        await client.place_order(
            OrderRequest(ClientOrderId("e-1"), "BTC-USD", Side.BUY, quote_size=Decimal(5))
        )
    assert not isinstance(refused.value, OrderOutcomeUnknown)  # certain: it was never sent
    assert refused.value.code == "CIRCUIT_OPEN"
    assert "circuit is open" in str(refused.value)
    assert mode["orders"] == sent_before

    deadline = time.monotonic() + WAIT
    while breaker.state != "half_open":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    # A failed probe opens it again.
    with pytest.raises(ExchangeError):
        await client.accounts()
    assert breaker.state == "open"

    mode["down"] = 0
    while breaker.state != "half_open":
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    assert await client.accounts() == []
    assert breaker.state == "closed"
    assert changes == ["open", "half_open", "open", "half_open", "closed"]
    assert breaker.opened == 2


# --- balance cache under a thousand bots ---------------------------------------------------------


async def test_a_thousand_bots_share_one_refresh_per_ttl(rest: CoinbaseRest) -> None:
    fetches = 0

    async def fetch() -> list[Any]:
        nonlocal fetches
        fetches += 1
        return await rest.accounts()

    ttl = 0.5
    cache = BalanceCache(fetch, clock=SystemClock(), ttl=ttl)
    stop_at = time.monotonic() + 2.5  # time compressed: five TTLs
    asked = 0

    async def bot() -> None:
        nonlocal asked
        while time.monotonic() < stop_at:
            usd = await cache.available("USD")
            assert usd > 0
            asked += 1
            await asyncio.sleep(0.05)  # a bot asks a few times per second

    started = time.monotonic()
    await asyncio.gather(*(bot() for _ in range(1000)))
    elapsed = time.monotonic() - started

    # One refresh per TTL at most (plus the first), whatever the load.
    assert 1 <= fetches <= int(elapsed / ttl) + 2
    assert cache.refreshes == fetches
    assert asked > 10_000
    assert cache.request_free_rate >= 0.99
    assert cache.misses == fetches
    assert rest.rate_limited == 0
