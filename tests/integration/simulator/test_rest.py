"""The simulator's REST API (/api/v3/brokerage), compared key for key with Coinbase's own bodies."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from streambot.simulator.server import Simulator, SimulatorConfig

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "coinbase"
PRODUCTS = ("BTC-USD", "ETH-USD", "BONK-USD")
TAKER = Decimal("0.012")
MAKER = Decimal("0.006")


def fixture(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_text())


class Api:
    """A thin client: every call returns (HTTP status, decoded JSON body)."""

    def __init__(self, simulator: Simulator, http: aiohttp.ClientSession) -> None:
        self.simulator = simulator
        self.http = http
        self.base = simulator.rest_url + "/api/v3/brokerage"

    async def get(self, path: str, params: Any = None, **kwargs: Any) -> tuple[int, Any]:
        async with self.http.get(self.base + path, params=params, **kwargs) as response:
            assert response.content_type == "application/json"
            return response.status, await response.json()

    async def post(self, path: str, body: Any = None, *, data: bytes | None = None) -> tuple[int, Any]:
        payload = data if data is not None else orjson.dumps(body)
        headers = {"Content-Type": "application/json"}
        async with self.http.post(self.base + path, data=payload, headers=headers) as response:
            assert response.content_type == "application/json"
            return response.status, await response.json()

    async def ok(self, path: str, params: Any = None) -> Any:
        status, body = await self.get(path, params)
        assert status == 200, body
        return body

    async def order(
        self, client_order_id: str, side: str, config: dict[str, Any], product: str = "BTC-USD"
    ) -> Any:
        body = {
            "client_order_id": client_order_id,
            "product_id": product,
            "side": side,
            "order_configuration": config,
        }
        status, answer = await self.post("/orders", body)
        assert status == 200, answer
        return answer

    async def balance(self, currency: str) -> tuple[Decimal, Decimal]:
        accounts = (await self.ok("/accounts", {"limit": 250}))["accounts"]
        (account,) = [a for a in accounts if a["currency"] == currency]
        return Decimal(account["available_balance"]["value"]), Decimal(account["hold"]["value"])

    def set_price(self, product: str, price: str, bid: str, ask: str) -> None:
        self.simulator.market.apply_external_tick(product, price, bid, ask)


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    # Prices only move when a test moves them, so fills are exact.
    simulator = Simulator(SimulatorConfig(products=PRODUCTS, seed=3, synthetic=False))
    await simulator.start()
    try:
        async with aiohttp.ClientSession() as http:
            api = Api(simulator, http)
            api.set_price("BTC-USD", "100000", "99999.99", "100000.01")
            yield api
    finally:
        await simulator.stop()


def market_buy(quote_size: str) -> dict[str, Any]:
    return {"market_market_ioc": {"quote_size": quote_size}}


def limit(base_size: str, limit_price: str, post_only: bool = False) -> dict[str, Any]:
    return {"limit_limit_gtc": {"base_size": base_size, "limit_price": limit_price, "post_only": post_only}}


def assert_error_body(body: Any) -> None:
    assert set(body) == set(fixture("rest_error_account_not_found.json"))
    assert all(isinstance(value, str) and value for value in body.values())


async def test_accounts_page_with_a_cursor_in_coinbases_shape(api: Api) -> None:
    reference = fixture("rest_accounts_page.json")
    reference_account = reference["accounts"][0]
    currencies: list[str] = []
    cursor = ""
    for _ in range(10):
        page = await api.ok("/accounts", {"limit": 2, "cursor": cursor})
        assert list(page) == list(reference)
        assert page["size"] == len(page["accounts"]) <= 2
        for account in page["accounts"]:
            assert list(account) == list(reference_account)
            assert set(account["available_balance"]) == {"value", "currency"}
            assert account["hold"]["currency"] == account["currency"]
            currencies.append(account["currency"])
        if not page["has_next"]:
            assert page["cursor"] == ""
            break
        cursor = page["cursor"]
        assert cursor
    assert currencies == ["USD", "BTC", "ETH", "BONK"]
    assert await api.balance("USD") == (Decimal(10000), Decimal(0))
    usd = (await api.ok("/accounts", {"limit": 1}))["accounts"][0]
    assert usd["available_balance"]["value"] == "10000.0000000000000000"
    assert usd["type"] == "ACCOUNT_TYPE_FIAT"


async def test_get_account_and_a_missing_one(api: Api) -> None:
    accounts = (await api.ok("/accounts"))["accounts"]
    body = await api.ok(f"/accounts/{accounts[1]['uuid']}")
    assert body == {"account": accounts[1]}
    status, error = await api.get("/accounts/00000000-0000-0000-0000-000000000000")
    assert status == 404
    assert_error_body(error)
    status, error = await api.get("/accounts", {"cursor": "nope"})
    assert status == 400
    assert_error_body(error)


async def test_products_flat_objects_and_their_public_mirrors(api: Api) -> None:
    reference = fixture("rest_product.json")
    product = await api.ok("/products/BTC-USD")
    assert list(product) == list(reference)
    assert (product["base_increment"], product["quote_increment"]) == ("0.00000001", "0.01")
    assert (product["base_currency_id"], product["quote_currency_id"]) == ("BTC", "USD")
    assert product["price"] == "100000"
    bonk = await api.ok("/market/products/BONK-USD")
    assert (bonk["base_increment"], bonk["quote_increment"]) == ("1", "0.00000001")
    listing = await api.ok("/products")
    assert set(listing) == {"products", "num_products"}
    assert listing["num_products"] == 3
    assert [p["product_id"] for p in listing["products"]] == list(PRODUCTS)
    assert await api.ok("/market/products") == listing
    status, error = await api.get("/products/NOPE-USD")
    assert status == 404
    assert_error_body(error)


async def test_best_bid_ask_takes_repeated_keys(api: Api) -> None:
    reference = fixture("rest_best_bid_ask.json")
    body = await api.ok("/best_bid_ask", [("product_ids", "ETH-USD"), ("product_ids", "BTC-USD")])
    assert list(body) == list(reference)
    assert [book["product_id"] for book in body["pricebooks"]] == ["ETH-USD", "BTC-USD"]
    for book in body["pricebooks"]:
        assert list(book) == list(reference["pricebooks"][0])
        assert list(book["bids"][0]) == ["price", "size"]
    btc = body["pricebooks"][1]
    assert (btc["bids"][0]["price"], btc["asks"][0]["price"]) == ("99999.99", "100000.01")
    everything = await api.ok("/best_bid_ask")
    assert [book["product_id"] for book in everything["pricebooks"]] == list(PRODUCTS)


async def test_candles_come_newest_first_from_the_price_history(api: Api) -> None:
    reference = fixture("rest_candles.json")
    now = int(time.time())
    body = await api.ok(
        "/products/ETH-USD/candles", {"start": now - 6 * 3600, "end": now, "granularity": "ONE_HOUR"}
    )
    assert list(body) == list(reference)
    candles = body["candles"]
    assert 6 <= len(candles) <= 7
    starts = [int(c["start"]) for c in candles]
    assert starts == sorted(starts, reverse=True)
    assert all(s % 3600 == 0 for s in starts)
    for candle in candles:
        assert list(candle) == list(reference["candles"][0])
        low, high = Decimal(candle["low"]), Decimal(candle["high"])
        assert low <= Decimal(candle["open"]) <= high
        assert low <= Decimal(candle["close"]) <= high
    mirror = await api.ok(
        "/market/products/ETH-USD/candles", {"start": now - 600, "end": now, "granularity": "ONE_MINUTE"}
    )
    assert 10 <= len(mirror["candles"]) <= 11
    status, error = await api.get("/products/ETH-USD/candles", {"start": now - 600, "end": now})
    assert status == 400
    assert_error_body(error)
    status, error = await api.get(
        "/products/ETH-USD/candles", {"start": now - 400 * 60, "end": now, "granularity": "ONE_MINUTE"}
    )
    assert status == 400
    assert "350" in error["message"]


async def test_a_market_buy_by_quote_size_fills_and_moves_the_balances(api: Api) -> None:
    answer = await api.order("buy-1", "BUY", market_buy("100"))
    assert list(answer) == list(fixture("rest_create_order_success.json"))
    assert answer["success"] is True
    order_id = answer["success_response"]["order_id"]
    assert answer["order_id"] == order_id
    assert answer["success_response"] == {
        "order_id": order_id,
        "product_id": "BTC-USD",
        "side": "BUY",
        "client_order_id": "buy-1",
    }
    assert answer["order_configuration"] == market_buy("100")

    body = await api.ok(f"/orders/historical/{order_id}")
    reference = fixture("rest_get_order_filled.json")
    assert list(body) == ["order"]
    order = body["order"]
    assert list(order) == list(reference["order"])
    for key, value in reference["order"].items():
        if value is not None:
            assert type(order[key]) is type(value), key
    assert (order["status"], order["order_type"], order["time_in_force"]) == (
        "FILLED",
        "MARKET",
        "IMMEDIATE_OR_CANCEL",
    )
    assert order["client_order_id"] == "buy-1"
    size, price = Decimal(order["filled_size"]), Decimal(order["average_filled_price"])
    value, fees = Decimal(order["filled_value"]), Decimal(order["total_fees"])
    # Coinbase spends at most quote_size on a market buy, fee included, for a size on the increment.
    assert Decimal("99.99") < value + fees <= Decimal(100)
    assert Decimal(order["total_value_after_fees"]) == value + fees
    assert size == size.quantize(Decimal("1e-8"))
    assert order["size_in_quote"] is True
    assert order["size_inclusive_of_fees"] is True
    assert abs(fees - value * TAKER) < Decimal("1e-12")
    assert abs(price - Decimal("100000.01")) < Decimal("1e-6")
    assert abs(size * price - value) < Decimal("1e-9")
    assert order["number_of_fills"] == "1"
    assert order["completion_percentage"] == "100"
    assert order["last_fill_time"]
    assert order["settled"] is True

    available, held = await api.balance("USD")
    assert available == Decimal(10000) - value - fees
    assert held == 0
    assert await api.balance("BTC") == (size, Decimal(0))

    fills = await api.ok("/orders/historical/fills", {"order_ids": order_id})
    assert set(fills) == {"fills", "cursor"}
    (fill,) = fills["fills"]
    assert fill["order_id"] == order_id
    # With size_in_quote, Coinbase reports the fill's size in the quote currency.
    assert fill["size_in_quote"] is True
    assert abs(Decimal(fill["size"]) - value) < Decimal("1e-9")
    assert Decimal(fill["commission"]) == fees
    assert fill["price"] == "100000.01"
    assert (fill["liquidity_indicator"], fill["trade_type"], fill["side"]) == ("TAKER", "FILL", "BUY")


async def test_insufficient_funds_get_coinbases_failure_body(api: Api) -> None:
    answer = await api.order("too-big", "BUY", market_buy("20000"))
    reference = fixture("rest_create_order_failure.json")
    assert list(answer) == list(reference)
    assert list(answer["error_response"]) == list(reference["error_response"])
    assert answer["success"] is False
    assert answer["order_id"] == ""
    assert answer["error_response"]["error"] == "INSUFFICIENT_FUND"
    assert answer["error_response"]["preview_failure_reason"] == "PREVIEW_INSUFFICIENT_FUND"
    assert answer["order_configuration"] == market_buy("20000")
    assert await api.balance("USD") == (Decimal(10000), Decimal(0))


@pytest.mark.parametrize(
    ("product", "side", "config", "error"),
    [
        ("NOPE-USD", "BUY", market_buy("10"), "INVALID_PRODUCT_ID"),
        ("BTC-USD", "SIDEWAYS", market_buy("10"), "INVALID_SIDE"),
        (
            "BTC-USD",
            "BUY",
            {"limit_limit_fok": {"base_size": "1", "limit_price": "1"}},
            "UNSUPPORTED_ORDER_CONFIGURATION",
        ),
        ("BTC-USD", "BUY", market_buy("10.005"), "INVALID_SIZE_PRECISION"),
        ("BTC-USD", "BUY", limit("0.001", "90000.005"), "INVALID_PRICE_PRECISION"),
        ("BTC-USD", "BUY", limit("0.001", "100001", post_only=True), "INVALID_LIMIT_PRICE_POST_ONLY"),
    ],
)
async def test_invalid_orders_are_refused_with_http_200(
    api: Api, product: str, side: str, config: dict[str, Any], error: str
) -> None:
    answer = await api.order("bad", side, config, product=product)
    assert answer["success"] is False
    assert answer["error_response"]["error"] == error


async def test_an_order_below_the_minimum_names_the_minimum(api: Api) -> None:
    answer = await api.order("small", "BUY", market_buy("0.5"))
    assert answer["success"] is False
    assert answer["error_response"]["preview_failure_reason"] == "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL"
    assert "too small" in answer["error_response"]["message"]


async def test_a_reused_client_order_id_returns_the_same_order(api: Api) -> None:
    first = await api.order("same-id", "BUY", market_buy("50"))
    second = await api.order("same-id", "BUY", market_buy("50"))
    assert second["success"] is True
    assert second["success_response"]["order_id"] == first["success_response"]["order_id"]
    available, held = await api.balance("USD")
    assert Decimal(9950) <= available < Decimal("9950.01")
    assert held == 0
    listing = await api.ok("/orders/historical/batch")
    assert len(listing["orders"]) == 1


async def test_a_limit_order_rests_then_fills_when_the_price_crosses(api: Api) -> None:
    answer = await api.order("limit-1", "BUY", limit("0.001", "99000"))
    assert answer["success"] is True
    order_id = answer["success_response"]["order_id"]
    order = (await api.ok(f"/orders/historical/{order_id}"))["order"]
    assert (order["status"], order["filled_size"], order["last_fill_time"]) == ("OPEN", "0", None)
    held = Decimal(99) * (1 + TAKER)
    assert Decimal(order["outstanding_hold_amount"]) == held
    assert await api.balance("USD") == (Decimal(10000) - held, held)
    open_orders = await api.ok("/orders/historical/batch", {"order_status": "OPEN"})
    assert [o["order_id"] for o in open_orders["orders"]] == [order_id]

    api.set_price("BTC-USD", "99500", "99499.99", "99500.01")  # closer, not yet crossing
    assert (await api.ok(f"/orders/historical/{order_id}"))["order"]["status"] == "OPEN"
    api.set_price("BTC-USD", "98990", "98989.99", "98990.01")

    order = (await api.ok(f"/orders/historical/{order_id}"))["order"]
    assert order["status"] == "FILLED"
    assert (order["filled_size"], order["average_filled_price"]) == ("0.001", "99000")
    assert Decimal(order["total_fees"]) == Decimal(99) * MAKER
    assert order["outstanding_hold_amount"] == "0"
    assert await api.balance("USD") == (Decimal(10000) - Decimal(99) * (1 + MAKER), Decimal(0))
    assert await api.balance("BTC") == (Decimal("0.001"), Decimal(0))
    (fill,) = (await api.ok("/orders/historical/fills", {"order_ids": order_id}))["fills"]
    assert fill["liquidity_indicator"] == "MAKER"


async def test_batch_cancel_reports_each_order(api: Api) -> None:
    resting = (await api.order("rest", "BUY", limit("0.001", "90000")))["success_response"]["order_id"]
    status, body = await api.post("/orders/batch_cancel", {"order_ids": ["not-an-order", resting]})
    assert status == 200
    reference = fixture("rest_cancel_orders.json")
    assert list(body) == list(reference)
    assert [list(r) for r in body["results"]] == [list(r) for r in reference["results"]]
    assert body["results"] == [
        {"success": False, "failure_reason": "UNKNOWN_CANCEL_ORDER", "order_id": "not-an-order"},
        {"success": True, "failure_reason": "UNKNOWN_CANCEL_FAILURE_REASON", "order_id": resting},
    ]
    order = (await api.ok(f"/orders/historical/{resting}"))["order"]
    assert list(order) == list(fixture("rest_get_order_cancelled.json")["order"])
    assert (order["status"], order["cancel_message"]) == ("CANCELLED", "User requested cancel")
    assert await api.balance("USD") == (Decimal(10000), Decimal(0))
    status, error = await api.post("/orders/batch_cancel", {"order_ids": "oops"})
    assert status == 400
    assert_error_body(error)


async def test_orders_list_filters_and_pages(api: Api) -> None:
    ids = [
        (await api.order(f"m{i}", "BUY", market_buy("10")))["success_response"]["order_id"] for i in range(3)
    ]
    resting = (await api.order("r", "BUY", limit("0.001", "90000")))["success_response"]["order_id"]
    reference = fixture("rest_orders_page.json")
    first = await api.ok("/orders/historical/batch", {"limit": 2})
    assert list(first) == list(reference)
    assert first["sequence"] == "0"
    assert first["has_next"] is True
    assert first["cursor"]
    assert set(reference["orders"][0]) <= set(first["orders"][0])
    second = await api.ok("/orders/historical/batch", {"limit": 2, "cursor": first["cursor"]})
    assert second["has_next"] is False
    assert second["cursor"] == ""
    listed = [o["order_id"] for o in first["orders"] + second["orders"]]
    assert listed == [resting, *reversed(ids)]
    filled = await api.ok(
        "/orders/historical/batch", [("order_status", "FILLED"), ("order_status", "CANCELLED")]
    )
    assert [o["order_id"] for o in filled["orders"]] == list(reversed(ids))
    by_product = await api.ok("/orders/historical/batch", {"product_ids": "ETH-USD"})
    assert by_product["orders"] == []
    status, error = await api.get("/orders/historical/batch", {"order_status": "DONE"})
    assert status == 400
    assert_error_body(error)
    fills = await api.ok("/orders/historical/fills", {"limit": 2})
    assert len(fills["fills"]) == 2
    rest = await api.ok("/orders/historical/fills", {"limit": 2, "cursor": fills["cursor"]})
    assert [f["order_id"] for f in fills["fills"] + rest["fills"]] == list(reversed(ids))
    assert rest["cursor"] == ""


async def test_orders_and_fills_lists_honour_their_time_windows(api: Api) -> None:
    ids = [
        (await api.order(f"w{i}", "BUY", market_buy("10")))["success_response"]["order_id"] for i in range(3)
    ]
    orders = {o["order_id"]: o for o in (await api.ok("/orders/historical/batch"))["orders"]}
    created = [orders[i]["created_time"] for i in ids]
    # start_date is inclusive and end_date exclusive: a time read from an order selects that order.
    window = await api.ok("/orders/historical/batch", {"start_date": created[1]})
    assert [o["order_id"] for o in window["orders"]] == [ids[2], ids[1]]
    window = await api.ok("/orders/historical/batch", {"start_date": created[1], "end_date": created[2]})
    assert [o["order_id"] for o in window["orders"]] == [ids[1]]
    paged = await api.ok("/orders/historical/batch", {"start_date": created[1], "limit": 1})
    assert (paged["has_next"], [o["order_id"] for o in paged["orders"]]) == (True, [ids[2]])
    rest = await api.ok(
        "/orders/historical/batch", {"start_date": created[1], "limit": 1, "cursor": paged["cursor"]}
    )
    assert (rest["has_next"], [o["order_id"] for o in rest["orders"]]) == (False, [ids[1]])

    fills = {f["order_id"]: f for f in (await api.ok("/orders/historical/fills"))["fills"]}
    traded = [fills[i]["trade_time"] for i in ids]
    window = await api.ok("/orders/historical/fills", {"start_sequence_timestamp": traded[1]})
    assert [f["order_id"] for f in window["fills"]] == [ids[2], ids[1]]
    window = await api.ok(
        "/orders/historical/fills",
        {"start_sequence_timestamp": traded[0], "end_sequence_timestamp": traded[1]},
    )
    assert [f["order_id"] for f in window["fills"]] == [ids[0]]

    for path, name in (("batch", "start_date"), ("fills", "end_sequence_timestamp")):
        status, error = await api.get(f"/orders/historical/{path}", {name: "yesterday"})
        assert status == 400
        assert_error_body(error)
        assert name in error["message"]


async def test_a_missing_order_is_a_404(api: Api) -> None:
    status, error = await api.get("/orders/historical/0b8d2b1e-0000-4000-8000-000000000000")
    assert status == 404
    assert_error_body(error)


@pytest.mark.parametrize("raw", [b"", b"[]", b"null", b"{", b"{}"])
async def test_malformed_order_bodies_are_http_400(api: Api, raw: bytes) -> None:
    status, error = await api.post("/orders", data=raw)
    assert status == 400
    assert_error_body(error)


async def test_an_order_without_client_order_id_is_http_400(api: Api) -> None:
    status, error = await api.post("/orders", {"product_id": "BTC-USD", "side": "BUY"})
    assert status == 400
    assert_error_body(error)


async def test_preview_has_coinbases_keys_and_places_nothing(api: Api) -> None:
    status, body = await api.post(
        "/orders/preview", {"product_id": "BTC-USD", "side": "BUY", "order_configuration": market_buy("100")}
    )
    assert status == 200
    assert list(body) == list(fixture("rest_preview_order.json"))
    assert body["errs"] == []
    assert Decimal("99.99") < Decimal(body["order_total"]) <= Decimal(100)
    assert (body["best_bid"], body["best_ask"]) == ("99999.99", "100000.01")
    status, refused = await api.post(
        "/orders/preview",
        {"product_id": "BTC-USD", "side": "BUY", "order_configuration": market_buy("99999")},
    )
    assert refused["errs"] == ["PREVIEW_INSUFFICIENT_FUND"]
    assert (await api.ok("/orders/historical/batch"))["orders"] == []


async def test_time_product_book_and_trades(api: Api) -> None:
    clock = await api.ok("/time")
    assert list(clock) == ["iso", "epochSeconds", "epochMillis"]
    assert abs(int(clock["epochSeconds"]) - time.time()) < 60
    assert clock["iso"].endswith("Z")
    book = await api.ok("/product_book", {"product_id": "BTC-USD", "limit": 5})
    assert set(book["pricebook"]) == {"product_id", "bids", "asks", "time"}
    assert len(book["pricebook"]["bids"]) == len(book["pricebook"]["asks"]) == 5
    assert book["pricebook"]["bids"][0]["price"] == "99999.99"
    trades = await api.ok("/products/BTC-USD/ticker", {"limit": 3})
    assert set(trades) == {"trades", "best_bid", "best_ask"}
    assert trades["trades"][0]["price"] == "100000"
    assert set(trades["trades"][0]) == {"trade_id", "product_id", "price", "size", "time", "side", "exchange"}
    assert (trades["trades"][0]["product_id"], trades["trades"][0]["exchange"]) == ("BTC-USD", "coinbase")


async def test_an_authorization_header_is_accepted_without_checking(api: Api) -> None:
    status, body = await api.get("/accounts", headers={"Authorization": "Bearer not.a.jwt"})
    assert status == 200
    assert body["accounts"]


async def test_unknown_paths_get_a_json_404(api: Api) -> None:
    status, error = await api.get("/no/such/endpoint")
    assert status == 404
    assert_error_body(error)
