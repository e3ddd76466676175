from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from streambot.clock import SystemClock
from streambot.domain import (
    Balance,
    BestBidAsk,
    ClientOrderId,
    ExchangeOrder,
    ExchangeOrderStatus,
    OrderRequest,
    PlacedOrder,
    Product,
    Side,
)
from streambot.exchange import ExchangeError
from streambot.venues.coinbase.client import CoinbaseRest
from streambot.venues.coinbase.parse import (
    error_from_response,
    order_configuration,
    parse_accounts,
    parse_best_bid_ask,
    parse_cancel_results,
    parse_create_order,
    parse_fills,
    parse_order,
    parse_orders,
    parse_products,
)

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "coinbase"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_product_maps_trading_rules_to_decimals() -> None:
    listed = {"products": [orjson.loads(fixture("rest_product.json"))]}
    assert parse_products(orjson.dumps(listed)) == [
        Product(
            product_id="BTC-USD",
            base_currency="BTC",
            quote_currency="USD",
            base_increment=Decimal("0.00000001"),
            quote_increment=Decimal("0.01"),
            base_min_size=Decimal("0.000016"),
            base_max_size=Decimal("2600"),
            quote_min_size=Decimal("1"),
            quote_max_size=Decimal("50000000"),
            trading_disabled=False,
        )
    ]


def test_product_list_and_disabled_flags() -> None:
    product = orjson.loads(fixture("rest_product.json"))
    disabled = {**product, "product_id": "ETH-USD", "base_currency_id": "ETH", "cancel_only": True}
    body = orjson.dumps({"products": [product, disabled], "num_products": 2})

    products = parse_products(body)

    assert [(p.product_id, p.base_currency, p.trading_disabled) for p in products] == [
        ("BTC-USD", "BTC", False),
        ("ETH-USD", "ETH", True),
    ]


def test_accounts_page_gives_balances_and_the_next_cursor() -> None:
    balances, cursor = parse_accounts(fixture("rest_accounts_page.json"))

    assert len(balances) == 49
    assert balances[0] == Balance(currency="SAND", available=Decimal("242.21"), hold=Decimal(0))
    assert balances[1] == Balance(currency="CRO", available=Decimal("489.7"), hold=Decimal(0))
    assert all(isinstance(b.available, Decimal) for b in balances)
    assert cursor == "26559de7-3d80-5139-a7b8-781a3fbe2cd0"


def test_last_accounts_page_has_no_cursor() -> None:
    page = orjson.loads(fixture("rest_accounts_page.json"))
    page.update(has_next=False, cursor="")
    assert parse_accounts(orjson.dumps(page))[1] == ""


def test_best_bid_ask() -> None:
    assert parse_best_bid_ask(fixture("rest_best_bid_ask.json")) == [
        BestBidAsk(
            product_id="BTC-USD",
            bid=Decimal("41931.59"),
            ask=Decimal("41933.63"),
            time=datetime(2023, 12, 30, 3, 44, 12, 783299, tzinfo=UTC),
        ),
        BestBidAsk(
            product_id="ETH-USD",
            bid=Decimal("2295.05"),
            ask=Decimal("2295.13"),
            time=datetime(2023, 12, 30, 3, 44, 12, 939329, tzinfo=UTC),
        ),
    ]


def test_create_order_success_reads_success_response() -> None:
    placed = parse_create_order(fixture("rest_create_order_success.json"), ClientOrderId("asdasd"))
    assert placed == PlacedOrder(
        success=True, order_id="1f71a67f-6964-4a58-9438-411a5a6f22fc", client_order_id=ClientOrderId("asdasd")
    )


def test_create_order_success_without_deprecated_top_level_fields() -> None:
    body = orjson.loads(fixture("rest_create_order_success.json"))
    del body["order_id"], body["failure_reason"]
    placed = parse_create_order(orjson.dumps(body), ClientOrderId("asdasd"))
    assert placed.order_id == "1f71a67f-6964-4a58-9438-411a5a6f22fc"


def test_create_order_failure_is_a_200_with_success_false() -> None:
    placed = parse_create_order(fixture("rest_create_order_failure.json"), ClientOrderId("c-1"))
    assert placed == PlacedOrder(
        success=False,
        order_id="",
        client_order_id=ClientOrderId("c-1"),
        error="INSUFFICIENT_FUND",
        message="Insufficient balance in source account",
    )


def test_filled_order() -> None:
    assert parse_order(fixture("rest_get_order_filled.json")) == ExchangeOrder(
        order_id="01b6e467-b659-432f-9490-c7cefe949564",
        client_order_id=ClientOrderId("a0f970a2-05fa-4e1f-9517-f6702c33cfd1"),
        product_id="ADA-USDT",
        side=Side.SELL,
        status=ExchangeOrderStatus.FILLED,
        filled_size=Decimal("10"),
        average_filled_price=Decimal("0.392"),
        filled_value=Decimal("3.92"),
        total_fees=Decimal("0.03136"),
        created_time=datetime(2023, 11, 26, 10, 19, 47, 423220, tzinfo=UTC),
    )


def test_cancelled_order() -> None:
    order = parse_order(fixture("rest_get_order_cancelled.json"))
    assert (order.status, order.side, order.filled_size, order.client_order_id) == (
        ExchangeOrderStatus.CANCELLED,
        Side.BUY,
        Decimal(0),
        "WoKEnVudA77LvxR4Uknt",
    )


def test_empty_decimal_strings_read_as_zero() -> None:
    body = orjson.loads(fixture("rest_get_order_cancelled.json"))
    body["order"].update(average_filled_price="", total_fees="", created_time=None)
    order = parse_order(orjson.dumps(body))
    assert order.average_filled_price == Decimal(0)
    assert order.total_fees == Decimal(0)
    assert order.created_time is None


def test_orders_page() -> None:
    orders, cursor = parse_orders(fixture("rest_orders_page.json"))
    assert len(orders) == 10
    assert orders[0].order_id == "0a89e021-92f9-49a8-8657-d1a948c72e01"
    assert orders[0].client_order_id == "j876789ks"
    assert {o.status for o in orders} == {ExchangeOrderStatus.CANCELLED}
    assert cursor == "148401249"


def test_fills_page_and_quote_sized_fills() -> None:
    fill = {
        "entry_id": "e-1",
        "trade_id": "t-1",
        "order_id": "o-1",
        "trade_time": "2024-01-02T03:04:05.123456789Z",
        "trade_type": "FILL",
        "price": "50000",
        "size": "0.002",
        "commission": "0.6",
        "product_id": "BTC-USD",
        "sequence_timestamp": "2024-01-02T03:04:05.123456Z",
        "liquidity_indicator": "TAKER",
        "size_in_quote": False,
        "user_id": "u",
        "side": "BUY",
    }
    quote_sized = {**fill, "trade_id": "t-2", "size": "100", "size_in_quote": True}
    fills, cursor = parse_fills(orjson.dumps({"fills": [fill, quote_sized], "cursor": ""}))

    assert cursor == ""
    assert fills[0].size == Decimal("0.002")
    assert fills[0].price == Decimal("50000")
    assert fills[0].commission == Decimal("0.6")
    assert fills[0].side is Side.BUY
    assert fills[0].trade_time == datetime(2024, 1, 2, 3, 4, 5, 123457, tzinfo=UTC)
    assert fills[1].size == Decimal("0.002")  # 100 USD at 50000


def test_cancel_results() -> None:
    assert parse_cancel_results(fixture("rest_cancel_orders.json")) == {
        "dc98ccb7-8494-418d-99e9-651b76ca64f2": False,
        "2ab5a57e-f3e4-41fa-bf82-65e7d89640c0": True,
    }


def test_error_bodies() -> None:
    not_found = error_from_response(404, fixture("rest_error_account_not_found.json"), "GET /accounts/x")
    assert not_found.status == 404
    assert not_found.code == "unknown"
    assert "Could not find users account information" in str(not_found)

    limited = error_from_response(429, fixture("rest_429.json"), "POST /orders")
    assert (limited.status, limited.code) == (429, "rate_limit_exceeded")
    assert "Too many requests" in str(limited)

    html = error_from_response(429, b"<html>\n<body>Too   many</body></html>" * 50, "POST /orders")
    assert "\n" not in str(html)
    assert len(str(html)) < 260


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"[]",
        b"null",
        b'{"order": {"order_id": "x"}}',
        b'{"order": {"order_id": "x", "product_id": "A-B", "side": "UP", "status": "OPEN"}}',
    ],
)
def test_unreadable_bodies_raise_exchange_error(body: bytes) -> None:
    with pytest.raises(ExchangeError):
        parse_order(body)


def test_non_numeric_money_raises() -> None:
    body = orjson.loads(fixture("rest_get_order_filled.json"))
    body["order"]["filled_size"] = "ten"
    with pytest.raises(ExchangeError, match="filled_size"):
        parse_order(orjson.dumps(body))


def test_order_configuration() -> None:
    coid = ClientOrderId("c")
    market_quote = OrderRequest(coid, "BTC-USD", Side.BUY, quote_size=Decimal("25.50"))
    market_base = OrderRequest(coid, "BTC-USD", Side.SELL, base_size=Decimal("1E-8"))
    limit = OrderRequest(coid, "BTC-USD", Side.BUY, base_size=Decimal("0.5"), limit_price=Decimal("30000.00"))

    assert order_configuration(market_quote) == {"market_market_ioc": {"quote_size": "25.50"}}
    assert order_configuration(market_base) == {"market_market_ioc": {"base_size": "0.00000001"}}
    assert order_configuration(limit) == {
        "limit_limit_gtc": {"base_size": "0.5", "limit_price": "30000.00", "post_only": False}
    }
    with pytest.raises(ExchangeError):
        order_configuration(OrderRequest(coid, "BTC-USD", Side.BUY))
    with pytest.raises(ExchangeError):
        order_configuration(
            OrderRequest(coid, "BTC-USD", Side.BUY, quote_size=Decimal(1), limit_price=Decimal(1))
        )


def test_client_rejects_bad_urls_and_half_credentials() -> None:
    with pytest.raises(ValueError, match="base_url"):
        CoinbaseRest("api.coinbase.com", clock=SystemClock())
    with pytest.raises(ValueError, match="together"):
        CoinbaseRest("https://api.coinbase.com", clock=SystemClock(), api_key="k")
