"""CoinbaseRest against real servers on loopback: the simulator, and a scripted misbehaving server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import aiohttp
import jwt
import orjson
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from streambot.clock import SystemClock
from streambot.domain import ClientOrderId, ExchangeOrderStatus, OrderRequest, Side, round_down
from streambot.exchange import Exchange, ExchangeError, OrderOutcomeUnknown
from streambot.simulator.server import Simulator, SimulatorConfig
from streambot.venues.coinbase.client import CoinbaseRest

pytestmark = pytest.mark.integration

PRODUCTS = ("BTC-USD", "ETH-USD", "DOGE-USD")


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    # Prices move only when a test moves them, so fills are exact.
    simulator = Simulator(SimulatorConfig(products=PRODUCTS, seed=5, synthetic=False))
    await simulator.start("127.0.0.1", 0)
    simulator.market.apply_external_tick("BTC-USD", "100000", "99999.99", "100000.01")
    try:
        yield simulator
    finally:
        await simulator.stop()


def coid(text: str) -> ClientOrderId:
    return ClientOrderId(text)


def buy(client_order_id: str, quote: str, product: str = "BTC-USD") -> OrderRequest:
    return OrderRequest(coid(client_order_id), product, Side.BUY, quote_size=Decimal(quote))


# --- against the simulator ---------------------------------------------------------------------


async def test_it_is_an_exchange(rest: CoinbaseRest) -> None:
    exchange: Exchange = rest
    assert exchange is rest


async def test_products(rest: CoinbaseRest) -> None:
    products = await rest.products()
    assert {p.product_id for p in products} == set(PRODUCTS)
    btc = next(p for p in products if p.product_id == "BTC-USD")
    assert (btc.base_currency, btc.quote_currency) == ("BTC", "USD")
    assert isinstance(btc.base_increment, Decimal)
    assert btc.base_increment > 0
    assert btc.quote_increment > 0
    assert btc.quote_min_size > 0
    assert not btc.trading_disabled

    only = await rest.products(["ETH-USD", "DOGE-USD"])
    assert [p.product_id for p in only] == ["ETH-USD", "DOGE-USD"]


async def test_best_bid_ask(rest: CoinbaseRest) -> None:
    books = await rest.best_bid_ask(["BTC-USD", "ETH-USD"])
    assert [b.product_id for b in books] == ["BTC-USD", "ETH-USD"]
    assert (books[0].bid, books[0].ask) == (Decimal("99999.99"), Decimal("100000.01"))
    assert books[1].bid < books[1].ask
    assert books[0].time.tzinfo is not None


async def test_accounts(rest: CoinbaseRest) -> None:
    balances = {b.currency: b for b in await rest.accounts()}
    assert balances["USD"].available == Decimal(10000)
    assert balances["USD"].hold == Decimal(0)


async def test_market_buy_fills_and_has_fills(rest: CoinbaseRest) -> None:
    placed = await rest.place_order(buy("it-buy-1", "100"))
    assert placed.success
    assert placed.client_order_id == "it-buy-1"
    assert placed.order_id

    order = await rest.get_order(placed.order_id)
    assert order.status is ExchangeOrderStatus.FILLED
    assert order.client_order_id == "it-buy-1"
    assert order.side is Side.BUY
    assert order.product_id == "BTC-USD"
    # At most the quote size, fee included, for a base size on the product's increment (no dust).
    assert Decimal("99.99") < order.filled_value + order.total_fees <= Decimal(100)
    assert order.filled_size == order.filled_size.quantize(Decimal("1e-8"))
    # The venue derives the average from value / size: equal to the ask up to rounding.
    assert abs(order.average_filled_price - Decimal("100000.01")) < Decimal("1e-6")
    assert order.created_time is not None

    fills = await rest.list_fills(placed.order_id)
    assert len(fills) == 1
    (fill,) = fills
    assert (fill.order_id, fill.product_id, fill.side) == (placed.order_id, "BTC-USD", Side.BUY)
    assert fill.price == Decimal("100000.01")
    assert fill.size == order.filled_size
    assert fill.commission == order.total_fees
    assert fill.trade_id

    balances = {b.currency: b for b in await rest.accounts()}
    assert balances["USD"].available == Decimal(10000) - order.filled_value - order.total_fees
    assert balances["BTC"].available == order.filled_size


async def test_market_sell_by_base_size(rest: CoinbaseRest) -> None:
    bought = await rest.place_order(buy("it-buy-2", "500"))
    product = (await rest.products(["BTC-USD"]))[0]
    size = round_down((await rest.get_order(bought.order_id)).filled_size, product.base_increment)
    sold = await rest.place_order(OrderRequest(coid("it-sell-2"), "BTC-USD", Side.SELL, base_size=size))
    assert sold.success
    order = await rest.get_order(sold.order_id)
    assert (order.status, order.side, order.filled_size) == (ExchangeOrderStatus.FILLED, Side.SELL, size)


async def test_limit_order_rests_and_cancels(rest: CoinbaseRest) -> None:
    request = OrderRequest(
        coid("it-limit-1"), "BTC-USD", Side.BUY, base_size=Decimal("0.001"), limit_price=Decimal("90000")
    )
    placed = await rest.place_order(request)
    assert placed.success
    assert (await rest.get_order(placed.order_id)).status is ExchangeOrderStatus.OPEN

    outcome = await rest.cancel_orders([placed.order_id, "no-such-order"])
    assert outcome == {placed.order_id: True, "no-such-order": False}
    assert (await rest.get_order(placed.order_id)).status is ExchangeOrderStatus.CANCELLED


async def test_insufficient_funds_is_success_false(rest: CoinbaseRest) -> None:
    placed = await rest.place_order(buy("it-too-big", "20000"))
    assert not placed.success
    assert placed.order_id == ""
    assert placed.client_order_id == "it-too-big"
    assert placed.error == "INSUFFICIENT_FUND"
    assert placed.message


async def test_reused_client_order_id_returns_the_same_order(rest: CoinbaseRest) -> None:
    first = await rest.place_order(buy("it-same", "50"))
    second = await rest.place_order(buy("it-same", "50"))
    assert second.success
    assert second.order_id == first.order_id
    balances = {b.currency: b for b in await rest.accounts()}
    assert Decimal(9950) <= balances["USD"].available < Decimal("9950.01")  # one buy, on the increment


async def test_find_order_by_client_order_id(rest: CoinbaseRest) -> None:
    placed = [await rest.place_order(buy(f"it-find-{i}", "20")) for i in range(3)]

    found = await rest.find_order(coid("it-find-1"), "BTC-USD")
    assert found is not None
    assert found.order_id == placed[1].order_id
    assert found.status is ExchangeOrderStatus.FILLED
    assert await rest.find_order(coid("it-never-sent"), "BTC-USD") is None
    assert await rest.find_order(coid("it-find-1"), "ETH-USD") is None


async def test_find_order_pages_through_the_listing(
    rest: CoinbaseRest, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streambot.venues.coinbase.client as module

    monkeypatch.setattr(module, "ORDERS_PAGE", 2)
    placed = [await rest.place_order(buy(f"it-page-{i}", "10")) for i in range(5)]
    found = await rest.find_order(coid("it-page-0"), "BTC-USD")  # the oldest: on the last page
    assert found is not None
    assert found.order_id == placed[0].order_id


async def test_missing_order_is_a_404_exchange_error(rest: CoinbaseRest) -> None:
    with pytest.raises(ExchangeError) as raised:
        await rest.get_order("does-not-exist")
    assert raised.value.status == 404
    assert not isinstance(raised.value, OrderOutcomeUnknown)


async def test_signed_requests_carry_a_fresh_jwt_for_the_request_uri(sim: Simulator) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    seen: list[str] = []

    async def on_request_start(
        session: aiohttp.ClientSession, context: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        seen.append(params.headers["Authorization"])

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        client = CoinbaseRest(
            sim.rest_url,
            clock=SystemClock(),
            api_key="organizations/o/apiKeys/k",
            api_secret=pem,
            session=session,
        )
        await client.products(["BTC-USD"])
        await client.accounts()

    claims = [jwt.decode(t.removeprefix("Bearer "), key.public_key(), algorithms=["ES256"]) for t in seen]
    host = sim.rest_url.removeprefix("http://")
    assert [c["uri"] for c in claims] == [
        f"GET {host}/api/v3/brokerage/products",
        f"GET {host}/api/v3/brokerage/accounts",
    ]
    assert len(set(seen)) == 2


# --- against a scripted server --------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[CoinbaseRest]]]:
    runners: list[web.AppRunner] = []
    clients: list[CoinbaseRest] = []

    async def make(routes: dict[tuple[str, str], Handler], **options: Any) -> CoinbaseRest:
        app = web.Application()
        for (method, path), handler in routes.items():
            app.router.add_route(method, "/api/v3/brokerage" + path, handler)
        runner = web.AppRunner(app, shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        options.setdefault("timeout", 0.5)
        client = CoinbaseRest(f"http://127.0.0.1:{runner.addresses[0][1]}", clock=SystemClock(), **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
    for runner in runners:
        await runner.cleanup()


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


class Counter:
    def __init__(self, responses: list[Callable[[], Awaitable[web.StreamResponse]]]) -> None:
        self.calls = 0
        self.responses = responses

    async def handle(self, request: web.Request) -> web.StreamResponse:
        response = self.responses[min(self.calls, len(self.responses) - 1)]
        self.calls += 1
        return await response()


def answer(
    body: object, status: int = 200, headers: dict[str, str] | None = None
) -> Callable[[], Awaitable[web.Response]]:
    async def respond() -> web.Response:
        return json_response(body, status, headers)

    return respond


def hang() -> Callable[[], Awaitable[web.Response]]:
    async def respond() -> web.Response:
        await asyncio.sleep(5)
        return json_response({})

    return respond


ACCOUNTS = {
    "accounts": [
        {"currency": "USD", "available_balance": {"value": "5", "currency": "USD"}, "hold": {"value": "1"}}
    ],
    "has_next": False,
    "cursor": "",
}
ERROR = {"error": "INTERNAL", "error_details": "boom", "message": "boom"}


async def test_reads_are_retried_on_5xx_and_timeouts(serve: Any) -> None:
    handler = Counter([answer(ERROR, 503), hang(), answer(ACCOUNTS)])
    rest = await serve({("GET", "/accounts"): handler.handle})
    balances = await rest.accounts()
    assert [(b.currency, b.available, b.hold) for b in balances] == [("USD", Decimal(5), Decimal(1))]
    assert handler.calls == 3


async def test_reads_give_up_after_a_few_attempts(serve: Any) -> None:
    handler = Counter([answer(ERROR, 500)])
    rest = await serve({("GET", "/accounts"): handler.handle})
    with pytest.raises(ExchangeError) as raised:
        await rest.accounts()
    assert raised.value.status == 500
    assert handler.calls == 4


RATE_LIMITED = {"errors": [{"id": "rate_limit_exceeded", "message": "Too many requests"}]}


def html(status: int) -> Callable[[], Awaitable[web.Response]]:
    async def respond() -> web.Response:
        return web.Response(
            body=b"<html><body>Too Many Requests</body></html>", status=status, content_type="text/html"
        )

    return respond


async def test_429_is_waited_out_and_resent_never_dropped(serve: Any) -> None:
    limited = answer(RATE_LIMITED, 429, {"x-ratelimit-reset": "0.05", "x-ratelimit-remaining": "0"})
    reads = Counter([limited, limited, limited, answer(ACCOUNTS)])
    created = {"success": True, "success_response": {"order_id": "o-1", "client_order_id": "x-2"}}
    orders = Counter([limited, html(429), answer(created)])
    rest = await serve({("GET", "/accounts"): reads.handle, ("POST", "/orders"): orders.handle})

    assert len(await rest.accounts()) == 1
    assert reads.calls == 4
    # A 429 means the venue did not take the order, so resending it is safe (same client id).
    placed = await rest.place_order(buy("x-2", "10"))
    assert (placed.success, placed.order_id) == (True, "o-1")
    assert orders.calls == 3
    assert rest.rate_limited == 5
    assert rest.private_limiter.pauses >= 1


async def test_429_beyond_the_budget_is_a_plain_exchange_error(serve: Any) -> None:
    limited = answer(RATE_LIMITED, 429, {"x-ratelimit-reset": "0.05"})
    reads, orders = Counter([limited]), Counter([html(429)])
    rest = await serve(
        {("GET", "/accounts"): reads.handle, ("POST", "/orders"): orders.handle}, rate_limit_budget=0.3
    )
    with pytest.raises(ExchangeError) as raised:
        await rest.accounts()
    assert raised.value.status == 429
    assert raised.value.code == "rate_limit_exceeded"
    assert reads.calls >= 2

    with pytest.raises(ExchangeError) as raised:
        await rest.place_order(buy("x-3", "10"))
    assert not isinstance(raised.value, OrderOutcomeUnknown)
    assert raised.value.status == 429
    assert "Too Many Requests" in str(raised.value)
    assert rest.breaker.state == "closed"  # rate limiting is no failure of the venue


async def test_accounts_follow_the_cursor(serve: Any) -> None:
    cursors: list[str] = []

    async def pages(request: web.Request) -> web.Response:
        cursor = request.query.get("cursor", "")
        cursors.append(cursor)
        account = {
            "currency": f"C{len(cursors)}",
            "available_balance": {"value": "1"},
            "hold": {"value": "0"},
        }
        last = cursor == "p2"
        return json_response(
            {"accounts": [account], "has_next": not last, "cursor": "" if last else f"p{len(cursors) + 1}"}
        )

    rest = await serve({("GET", "/accounts"): pages})
    assert [b.currency for b in await rest.accounts()] == ["C1", "C2"]
    assert cursors == ["", "p2"]


async def test_every_paged_read_stops_on_a_repeated_or_endless_cursor(
    serve: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import streambot.venues.coinbase.client as module

    monkeypatch.setattr(module, "MAX_PAGES", 5)
    seen: list[tuple[str, str]] = []
    fill = {
        "order_id": "o-1",
        "product_id": "BTC-USD",
        "side": "BUY",
        "price": "100",
        "size": "1",
        "trade_time": "2024-01-01T00:00:00Z",
    }

    async def fills(request: web.Request) -> web.Response:
        cursor = request.query.get("cursor", "")
        seen.append(("fills", cursor))
        return json_response({"fills": [fill], "cursor": f"f{len(seen)}"})  # never ends

    async def orders(request: web.Request) -> web.Response:
        cursor = request.query.get("cursor", "")
        seen.append(("orders", cursor))
        order = {"order_id": f"o{len(seen)}", "product_id": "BTC-USD", "side": "BUY", "status": "OPEN"}
        return json_response({"orders": [order], "has_next": True, "cursor": "same"})  # repeats

    rest = await serve(
        {("GET", "/orders/historical/fills"): fills, ("GET", "/orders/historical/batch"): orders}
    )
    caplog.set_level("WARNING", logger="streambot.venues.coinbase.client")
    assert len(await rest.list_fills("o-1")) == 5
    assert seen == [("fills", ""), *[("fills", f"f{i}") for i in range(1, 5)]]
    assert "GET /orders/historical/fills: stopped after 5 pages" in caplog.text

    seen.clear()
    assert len(await rest.list_orders(statuses=[ExchangeOrderStatus.OPEN])) == 2
    assert seen == [("orders", ""), ("orders", "same")]

    seen.clear()
    assert await rest.find_order(coid("not-there"), "BTC-USD") is None
    assert seen == [("orders", ""), ("orders", "same")]


async def test_find_order_stops_paging_at_the_first_match(serve: Any) -> None:
    requests = 0

    async def orders(request: web.Request) -> web.Response:
        nonlocal requests
        requests += 1
        order = {
            "order_id": f"o{requests}",
            "client_order_id": f"c{requests}",
            "product_id": "BTC-USD",
            "side": "BUY",
            "status": "FILLED",
        }
        return json_response({"orders": [order], "has_next": True, "cursor": f"p{requests}"})

    rest = await serve({("GET", "/orders/historical/batch"): orders})
    found = await rest.find_order(coid("c2"), "BTC-USD")
    assert found is not None
    assert found.order_id == "o2"
    assert requests == 2


async def test_create_order_is_never_resent_and_unknown_outcomes_say_so(serve: Any) -> None:
    for response in (answer(ERROR, 502), hang(), answer("<html>oops</html>")):
        handler = Counter([response])
        rest = await serve({("POST", "/orders"): handler.handle})
        with pytest.raises(OrderOutcomeUnknown):
            await rest.place_order(buy("x-1", "10"))
        assert handler.calls == 1


async def test_create_order_on_a_dead_server_is_an_unknown_outcome() -> None:
    rest = CoinbaseRest("http://127.0.0.1:9", clock=SystemClock(), timeout=0.5)
    try:
        with pytest.raises(OrderOutcomeUnknown):
            await rest.place_order(buy("x-3", "10"))
    finally:
        await rest.close()


async def test_order_request_body(serve: Any) -> None:
    bodies: list[Any] = []

    async def record(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return json_response(
            {
                "success": True,
                "success_response": {"order_id": "o-1", "client_order_id": bodies[-1]["client_order_id"]},
            }
        )

    rest = await serve({("POST", "/orders"): record})
    await rest.place_order(buy("b-1", "25.5"))
    await rest.place_order(
        OrderRequest(
            coid("b-2"), "ETH-USD", Side.SELL, base_size=Decimal("0.1"), limit_price=Decimal("4000.01")
        )
    )
    assert bodies == [
        {
            "client_order_id": "b-1",
            "product_id": "BTC-USD",
            "side": "BUY",
            "order_configuration": {"market_market_ioc": {"quote_size": "25.5"}},
        },
        {
            "client_order_id": "b-2",
            "product_id": "ETH-USD",
            "side": "SELL",
            "order_configuration": {
                "limit_limit_gtc": {"base_size": "0.1", "limit_price": "4000.01", "post_only": False}
            },
        },
    ]


async def test_quote_sized_fills_are_converted_to_base_when_the_venue_sends_quote(serve: Any) -> None:
    fill = {
        "entry_id": "e",
        "trade_id": "t-1",
        "order_id": "o-q",
        "trade_time": "2024-01-02T03:04:05.1Z",
        "price": "50000",
        "size": "99.4",  # quote: what ccxt's capture of Coinbase shows for size_in_quote fills
        "commission": "0.5964",
        "product_id": "BTC-USD",
        "size_in_quote": True,
        "side": "BUY",
    }
    order = {
        "order_id": "o-q",
        "product_id": "BTC-USD",
        "side": "BUY",
        "status": "FILLED",
        "client_order_id": "c-q",
        "filled_size": "0.001988",
        "average_filled_price": "50000",
        "filled_value": "99.4",
        "total_fees": "0.5964",
    }

    async def fills(request: web.Request) -> web.Response:
        assert request.query.getall("order_ids") == ["o-q"]
        return json_response({"fills": [fill], "cursor": ""})

    async def get_order(request: web.Request) -> web.Response:
        return json_response({"order": order})

    rest = await serve(
        {("GET", "/orders/historical/fills"): fills, ("GET", "/orders/historical/o-q"): get_order}
    )
    (converted,) = await rest.list_fills("o-q")
    assert converted.size == Decimal("0.001988")
    assert converted.price * converted.size == Decimal("99.4")
