"""The paper account's order matching: fills, fees, holds, validation codes, idempotency, cancels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streambot.domain import Product, Side
from streambot.simulator.market import spec_for
from streambot.venues.matcher.accounts import Account, account_uuid
from streambot.venues.matcher.engine import MatchingEngine
from streambot.venues.matcher.orders import CANCELLED, FILLED, OPEN, NewOrder, PlaceResult, SimOrder

T0 = 1_800_000_000.0
TAKER = Decimal("0.006")
MAKER = Decimal("0.004")
TINY = Decimal("1e-12")


def products(*ids: str) -> list[Product]:
    return [spec_for(p).product() for p in ids]


def engine(seed: int | None = 3, usd: str = "10000") -> MatchingEngine:
    book = MatchingEngine(
        products("BTC-USD", "BONK-USD"),
        starting_balances={"USD": Decimal(usd)},
        taker_fee_rate=TAKER,
        maker_fee_rate=MAKER,
        seed=seed,
        now=T0,
    )
    book.update_market("BTC-USD", Decimal("100000.00"), Decimal("100002.00"), T0)
    book.update_market("BONK-USD", Decimal("0.00002000"), Decimal("0.00002001"), T0)
    return book


def account(book: MatchingEngine, currency: str) -> Account:
    (found,) = [a for a in book.accounts() if a.currency == currency]
    return found


def available(book: MatchingEngine, currency: str) -> Decimal:
    return account(book, currency).available


def hold(book: MatchingEngine, currency: str) -> Decimal:
    return account(book, currency).hold


def placed(result: PlaceResult) -> SimOrder:
    assert result.rejection is None, result.rejection
    assert result.order is not None
    return result.order


def test_accounts_exist_per_currency_with_the_starting_quote() -> None:
    book = engine()
    assert [a.currency for a in book.accounts()] == ["USD", "BTC", "BONK"]
    assert available(book, "USD") == Decimal(10000)
    assert available(book, "BTC") == 0
    usd = account(book, "USD")
    assert usd.uuid == account_uuid("USD")
    assert book.account_by_uuid(usd.uuid) is usd


def test_a_market_buy_by_quote_spends_at_most_that_fee_included_for_a_size_on_the_increment() -> None:
    book = engine()
    order = placed(book.place_order(NewOrder.market("c1", "BTC-USD", Side.BUY, quote_size="100"), T0 + 1))
    assert order.status == FILLED
    assert order.size_in_quote
    spent = order.filled_value + order.total_fees
    # Short of 100 by less than one more increment (1e-8 BTC at 100002) would have cost.
    assert Decimal(100) - Decimal("100002.00") * Decimal("1e-8") * (1 + TAKER) < spent <= Decimal(100)
    assert abs(order.total_fees - order.filled_value * TAKER) < TINY
    # No dust: the size is on the product's base increment, and size x price is the value.
    assert order.filled_size == order.filled_size.quantize(Decimal("1e-8"))
    assert order.filled_size * Decimal("100002.00") == order.filled_value
    assert available(book, "BTC") == order.filled_size
    assert available(book, "USD") == Decimal(10000) - spent
    assert abs(order.average_filled_price - Decimal("100002")) < Decimal("1e-6")
    assert order.total_value_after_fees == spent
    assert Decimal(9900) <= available(book, "USD") < Decimal("9900.01")  # the buy's size is on the increment
    assert available(book, "BTC") == order.filled_size
    (fill,) = book.list_fills(order_ids=[order.order_id])
    assert (fill.price, fill.size, fill.commission) == (
        Decimal("100002.00"),
        order.filled_size,
        order.total_fees,
    )
    assert fill.liquidity_indicator == "TAKER"
    assert fill.time == T0 + 1
    assert order.created_time == T0 + 1


def test_a_market_buy_by_base_pays_the_fee_on_top_and_a_sell_receives_net() -> None:
    book = engine()
    buy = placed(book.place_order(NewOrder.market("b", "BTC-USD", "BUY", base_size="0.01"), T0))
    assert buy.filled_value == Decimal("1000.0200")
    assert buy.total_fees == Decimal("6.0001200")
    assert available(book, "USD") == Decimal(10000) - Decimal("1006.0201200")
    sell = placed(book.place_order(NewOrder.market("s", "BTC-USD", "SELL", base_size="0.004"), T0))
    assert sell.filled_value == Decimal("400.00000")
    assert sell.total_fees == Decimal("2.40000000")
    assert sell.total_value_after_fees == Decimal("397.6")
    assert available(book, "BTC") == Decimal("0.006")
    assert available(book, "USD") == Decimal(10000) - Decimal("1006.02012") + Decimal("397.6")


def test_a_limit_buy_rests_with_a_hold_then_fills_as_maker_when_the_ask_crosses() -> None:
    book = engine()
    order = placed(
        book.place_order(NewOrder.limit("l1", "BTC-USD", "BUY", base_size="0.01", limit_price="99000"), T0)
    )
    assert order.status == OPEN
    expected_hold = Decimal(990) * (1 + TAKER)
    assert order.hold == expected_hold
    assert hold(book, "USD") == expected_hold
    assert available(book, "USD") == Decimal(10000) - expected_hold
    assert book.update_market("BTC-USD", Decimal("99500.00"), Decimal("99500.01"), T0 + 1) == []
    assert order.status == OPEN
    (fill,) = book.update_market("BTC-USD", Decimal("98990.00"), Decimal("98999.99"), T0 + 2)
    assert order.status == FILLED
    assert (fill.price, fill.liquidity_indicator) == (Decimal(99000), "MAKER")
    assert order.total_fees == Decimal(990) * MAKER
    assert hold(book, "USD") == 0
    assert available(book, "USD") == Decimal(10000) - Decimal(990) * (1 + MAKER)
    assert available(book, "BTC") == Decimal("0.01")
    assert order.last_fill_time == T0 + 2


def test_a_limit_sell_rests_on_base_and_fills_when_the_bid_reaches_it() -> None:
    book = engine()
    placed(book.place_order(NewOrder.market("b", "BTC-USD", "BUY", base_size="0.02"), T0))
    order = placed(
        book.place_order(NewOrder.limit("l", "BTC-USD", "SELL", base_size="0.015", limit_price="101000"), T0)
    )
    assert order.status == OPEN
    assert hold(book, "BTC") == Decimal("0.015")
    assert available(book, "BTC") == Decimal("0.005")
    book.update_market("BTC-USD", Decimal("101000.00"), Decimal("101000.01"), T0 + 1)
    assert order.status == FILLED
    assert hold(book, "BTC") == 0
    assert available(book, "BTC") == Decimal("0.005")


def test_a_marketable_limit_order_fills_at_once_at_the_touch_as_taker() -> None:
    book = engine()
    order = placed(
        book.place_order(NewOrder.limit("l", "BTC-USD", "BUY", base_size="0.001", limit_price="105000"), T0)
    )
    assert order.status == FILLED
    (fill,) = book.list_fills(order_ids=[order.order_id])
    assert (fill.price, fill.liquidity_indicator) == (Decimal("100002.00"), "TAKER")
    assert hold(book, "USD") == 0


def test_a_post_only_order_that_would_cross_is_rejected_and_its_id_stays_free() -> None:
    book = engine()
    request = NewOrder.limit("po", "BTC-USD", "BUY", base_size="0.001", limit_price="105000", post_only=True)
    result = book.place_order(request, T0)
    assert result.rejection is not None
    assert result.rejection.error == "INVALID_LIMIT_PRICE_POST_ONLY"
    assert book.list_orders() == []
    resting = NewOrder.limit("po", "BTC-USD", "BUY", base_size="0.001", limit_price="90000", post_only=True)
    assert placed(book.place_order(resting, T0)).status == OPEN


def test_cancel_releases_the_hold_and_reports_coinbase_failure_reasons() -> None:
    book = engine()
    order = placed(
        book.place_order(NewOrder.limit("l", "BTC-USD", "BUY", base_size="0.01", limit_price="90000"), T0)
    )
    filled = placed(book.place_order(NewOrder.market("m", "BTC-USD", "BUY", quote_size="10"), T0))
    results = book.cancel_orders([order.order_id, order.order_id, "nope", "", filled.order_id], T0 + 1)
    assert [(r.success, r.failure_reason) for r in results] == [
        (True, "UNKNOWN_CANCEL_FAILURE_REASON"),
        (False, "DUPLICATE_CANCEL_REQUEST"),
        (False, "UNKNOWN_CANCEL_ORDER"),
        (False, "INVALID_CANCEL_REQUEST"),
        (False, "ORDER_IS_FULLY_FILLED"),
    ]
    assert order.status == CANCELLED
    assert order.cancel_message == "User requested cancel"
    assert hold(book, "USD") == 0
    assert Decimal(9990) <= available(book, "USD") < Decimal("9990.01")  # the buy's size is on the increment
    assert book.update_market("BTC-USD", Decimal("80000.00"), Decimal("80000.01"), T0 + 2) == []


def test_a_reused_client_order_id_returns_the_first_order() -> None:
    book = engine()
    first = placed(book.place_order(NewOrder.market("same", "BTC-USD", "BUY", quote_size="100"), T0))
    again = placed(book.place_order(NewOrder.market("same", "BTC-USD", "BUY", quote_size="500"), T0 + 1))
    assert again is first
    assert Decimal(9900) <= available(book, "USD") < Decimal("9900.01")  # the buy's size is on the increment
    assert len(book.list_orders()) == 1


def market_config(**fields: Any) -> dict[str, Any]:
    return {"market_market_ioc": fields}


@pytest.mark.parametrize(
    ("product_id", "side", "configuration", "error", "preview"),
    [
        (
            "NOPE-USD",
            "BUY",
            market_config(quote_size="10"),
            "INVALID_PRODUCT_ID",
            "PREVIEW_INVALID_PRODUCT_ID",
        ),
        ("BTC-USD", "HOLD", market_config(quote_size="10"), "INVALID_SIDE", "PREVIEW_INVALID_SIDE"),
        (
            "BTC-USD",
            "BUY",
            {"sor_limit_ioc": {"base_size": "1", "limit_price": "1"}},
            "UNSUPPORTED_ORDER_CONFIGURATION",
            "PREVIEW_INVALID_ORDER_CONFIG",
        ),
        (
            "BTC-USD",
            "BUY",
            {"nonsense": {}},
            "UNSUPPORTED_ORDER_CONFIGURATION",
            "PREVIEW_INVALID_ORDER_CONFIG",
        ),
        (
            "BTC-USD",
            "BUY",
            {"market_market_ioc": {"quote_size": "10"}, "limit_limit_gtc": {}},
            "UNSUPPORTED_ORDER_CONFIGURATION",
            "PREVIEW_INVALID_ORDER_CONFIG",
        ),
        (
            "BTC-USD",
            "SELL",
            market_config(quote_size="10"),
            "UNSUPPORTED_ORDER_CONFIGURATION",
            "PREVIEW_INVALID_ORDER_CONFIG",
        ),
        (
            "BTC-USD",
            "BUY",
            market_config(base_size="0.000000001"),
            "INVALID_SIZE_PRECISION",
            "PREVIEW_INVALID_SIZE_PRECISION",
        ),
        (
            "BTC-USD",
            "BUY",
            market_config(quote_size="10.001"),
            "INVALID_SIZE_PRECISION",
            "PREVIEW_INVALID_QUOTE_SIZE_PRECISION",
        ),
        (
            "BONK-USD",
            "BUY",
            market_config(base_size="100000.5"),
            "INVALID_SIZE_PRECISION",
            "PREVIEW_INVALID_SIZE_PRECISION",
        ),
        (
            "BTC-USD",
            "BUY",
            {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "90000.001", "post_only": False}},
            "INVALID_PRICE_PRECISION",
            "PREVIEW_INVALID_PRICE_PRECISION",
        ),
        (
            "BTC-USD",
            "BUY",
            market_config(quote_size="0.50"),
            "UNKNOWN_FAILURE_REASON",
            "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
        ),
        (
            "BTC-USD",
            "BUY",
            {"limit_limit_gtc": {"base_size": "0.00000001", "limit_price": "90000", "post_only": False}},
            "UNKNOWN_FAILURE_REASON",
            "PREVIEW_INVALID_QUOTE_SIZE_TOO_SMALL",
        ),
        (
            "BTC-USD",
            "BUY",
            market_config(base_size="5000"),
            "UNKNOWN_FAILURE_REASON",
            "PREVIEW_INVALID_BASE_SIZE_TOO_LARGE",
        ),
        (
            "BTC-USD",
            "BUY",
            market_config(quote_size="20000"),
            "INSUFFICIENT_FUND",
            "PREVIEW_INSUFFICIENT_FUND",
        ),
        ("BTC-USD", "SELL", market_config(base_size="0.1"), "INSUFFICIENT_FUND", "PREVIEW_INSUFFICIENT_FUND"),
        (
            "BTC-USD",
            "BUY",
            market_config(quote_size="ten"),
            "INVALID_REQUEST",
            "PREVIEW_NON_NUMERIC_ORDER_SIZE",
        ),
        ("BTC-USD", "BUY", market_config(), "INVALID_REQUEST", "PREVIEW_INVALID_ORDER_CONFIG"),
        (
            "BTC-USD",
            "BUY",
            market_config(base_size="1e40"),
            "UNKNOWN_FAILURE_REASON",
            "PREVIEW_INVALID_BASE_SIZE_TOO_LARGE",
        ),
    ],
)
def test_invalid_orders_get_coinbase_error_codes_and_change_nothing(
    product_id: str, side: str, configuration: dict[str, Any], error: str, preview: str
) -> None:
    book = engine()
    result = book.place_order(NewOrder("cid", product_id, side, configuration), T0)
    assert not result.success
    assert result.rejection is not None
    assert (result.rejection.error, result.rejection.preview_failure_reason) == (error, preview)
    assert result.rejection.message
    assert book.list_orders() == []
    assert available(book, "USD") == Decimal(10000)
    assert book.preview_order(NewOrder("", product_id, side, configuration)).rejection == result.rejection


def test_preview_prices_the_order_without_placing_it() -> None:
    book = engine()
    preview = book.preview_order(NewOrder.market("", "BTC-USD", "BUY", quote_size="100"))
    assert preview.rejection is None
    assert Decimal("99.99") < preview.total <= Decimal(100)
    assert preview.quote_size + preview.commission == preview.total
    assert (preview.best_bid, preview.best_ask) == (Decimal("100000.00"), Decimal("100002.00"))
    assert book.list_orders() == []
    assert available(book, "USD") == Decimal(10000)


def test_orders_and_fills_list_newest_first_with_filters_and_cursors() -> None:
    book = engine()
    a = placed(book.place_order(NewOrder.market("a", "BTC-USD", "BUY", quote_size="10"), T0))
    b = placed(
        book.place_order(NewOrder.limit("b", "BTC-USD", "BUY", base_size="0.001", limit_price="90000"), T0)
    )
    c = placed(book.place_order(NewOrder.market("c", "BONK-USD", "BUY", quote_size="10"), T0))
    assert book.list_orders() == [c, b, a]
    assert book.list_orders(statuses=[OPEN]) == [b]
    assert book.list_orders(product_ids=["BTC-USD"]) == [b, a]
    assert book.list_orders(order_ids=[a.order_id]) == [a]
    assert book.list_orders(before_sequence=b.sequence) == [b, a]
    assert [f.order_id for f in book.list_fills()] == [c.order_id, a.order_id]
    assert [f.order_id for f in book.list_fills(product_ids=["BTC-USD"])] == [a.order_id]
    assert book.list_fills(before_sequence=1)[0].order_id == a.order_id


def test_orders_and_fills_list_within_a_time_window_start_inclusive_end_exclusive() -> None:
    book = engine()
    times = [T0 + 10, T0 + 20.000001, T0 + 30]
    orders = [
        placed(book.place_order(NewOrder.market(f"m{i}", "BTC-USD", "BUY", quote_size="10"), at))
        for i, at in enumerate(times)
    ]
    first, second, third = orders
    at = [datetime.fromtimestamp(t, UTC) for t in times]
    assert book.list_orders(created_from=at[1]) == [third, second]
    assert book.list_orders(created_before=at[2]) == [second, first]
    assert book.list_orders(created_from=at[1], created_before=at[2]) == [second]
    assert book.list_orders(created_from=at[2] + timedelta(microseconds=1)) == []
    assert [f.order_id for f in book.list_fills(traded_from=at[1])] == [third.order_id, second.order_id]
    assert [f.order_id for f in book.list_fills(traded_before=at[1])] == [first.order_id]
    assert [f.order_id for f in book.list_fills(traded_from=at[0], traded_before=at[1])] == [first.order_id]


def test_lists_stop_at_the_limit() -> None:
    book = engine()
    orders = [
        placed(book.place_order(NewOrder.market(f"m{i}", "BTC-USD", "BUY", quote_size="10"), T0 + i))
        for i in range(4)
    ]
    assert book.list_orders(limit=2) == [orders[3], orders[2]]
    assert book.list_orders(before_sequence=orders[1].sequence, limit=5) == [orders[1], orders[0]]
    assert [f.order_id for f in book.list_fills(limit=3)] == [o.order_id for o in orders[:0:-1]]


def test_a_seeded_engine_makes_the_same_ids() -> None:
    def ids(seed: int) -> list[str]:
        book = engine(seed=seed)
        order = placed(book.place_order(NewOrder.market("x", "BTC-USD", "BUY", quote_size="10"), T0))
        (fill,) = book.list_fills(order_ids=[order.order_id])
        return [order.order_id, fill.trade_id]

    assert ids(4) == ids(4)
    assert ids(4) != ids(5)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.integers(min_value=1, max_value=3000),
            st.integers(min_value=-500, max_value=500),
        ),
        max_size=25,
    )
)
def test_balances_never_go_negative_and_money_is_conserved(steps: list[tuple[bool, int, int]]) -> None:
    book = engine(usd="5000")
    spent = received = Decimal(0)
    for index, (buy, amount, move) in enumerate(steps):
        bid = Decimal(100000 + move * 10).quantize(Decimal("0.01"))
        book.update_market("BTC-USD", bid, bid + Decimal("0.01"), T0 + index)
        if buy:
            request = NewOrder.market(f"o{index}", "BTC-USD", "BUY", quote_size=str(amount))
        else:
            size = min(available(book, "BTC"), Decimal(amount) / 100_000).quantize(Decimal("0.00000001"))
            request = NewOrder.market(f"o{index}", "BTC-USD", "SELL", base_size=str(size))
        result = book.place_order(request, T0 + index)
        if result.order is not None:
            order = result.order
            if buy:
                spent += order.filled_value + order.total_fees
            else:
                received += order.filled_value - order.total_fees
        assert available(book, "USD") >= 0
        assert available(book, "BTC") >= 0
    assert available(book, "USD") == Decimal(5000) - spent + received
    bought = sum((o.filled_size for o in book.list_orders() if o.side == "BUY"), Decimal(0))
    sold = sum((o.filled_size for o in book.list_orders() if o.side == "SELL"), Decimal(0))
    assert available(book, "BTC") == bought - sold


def test_release_forgets_done_orders_and_their_fills_but_never_a_working_one() -> None:
    book = engine()
    bought = placed(book.place_order(NewOrder.market("c1", "BTC-USD", Side.BUY, quote_size="100"), T0 + 1))
    resting = placed(
        book.place_order(
            NewOrder.limit("c2", "BTC-USD", Side.BUY, base_size="0.001", limit_price="90000"), T0 + 2
        )
    )
    sold = placed(book.place_order(NewOrder.market("c3", "BTC-USD", Side.SELL, base_size="0.0001"), T0 + 3))
    fills = {order.order_id: book.fills_of(order.order_id) for order in (bought, sold)}

    released = book.release([bought.order_id, resting.order_id, sold.order_id, "unknown"])

    assert released == fills
    assert book.get_order(bought.order_id) is None
    assert book.order_for_client_id("c1") is None
    assert book.fills_of(sold.order_id) == []
    assert [o.order_id for o in book.list_orders()] == [resting.order_id]
    assert book.list_fills() == []
    # The resting order still fills, and only it is listed.
    book.update_market("BTC-USD", Decimal("89000.00"), Decimal("89999.00"), T0 + 4)
    assert resting.status == FILLED
    assert [f.order_id for f in book.list_fills()] == [resting.order_id]
