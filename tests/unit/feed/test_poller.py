"""REST best bid/ask as tickers: mid price, empty sides, the 24 h figures of the last streamed tick."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from streambot.domain import BestBidAsk, Ticker
from streambot.feed.poller import ticker_from_book

WHEN = datetime(2026, 1, 1, tzinfo=UTC)
NOW = 1_800_000_000.0  # the poller's clock, for a book without a time


def book(bid: str, ask: str) -> BestBidAsk:
    return BestBidAsk("BTC-USD", Decimal(bid), Decimal(ask), WHEN)


def test_mid_price_and_previous_figures() -> None:
    previous = Ticker(
        product_id="BTC-USD",
        price=100.0,
        best_bid=99.0,
        best_ask=101.0,
        volume_24h=5.0,
        low_24h=90.0,
        high_24h=110.0,
        price_change_pct_24h=1.5,
        time=0.0,
        received_ns=0,
        sequence=7,
    )
    tick = ticker_from_book(book("99", "101"), previous, 42, NOW)
    assert tick is not None
    assert (tick.price, tick.best_bid, tick.best_ask) == (100.0, 99.0, 101.0)
    assert (tick.volume_24h, tick.low_24h, tick.high_24h, tick.price_change_pct_24h) == (
        5.0,
        90.0,
        110.0,
        1.5,
    )
    assert tick.sequence == -1
    assert tick.received_ns == 42
    assert tick.time == WHEN.timestamp()


def test_one_sided_and_empty_books() -> None:
    tick = ticker_from_book(book("0", "50"), None, 1, NOW)
    assert tick is not None
    assert (tick.price, tick.best_bid, tick.best_ask, tick.low_24h) == (50.0, 50.0, 50.0, 50.0)
    assert ticker_from_book(book("0", "0"), None, 1, NOW) is None


def test_a_book_without_a_time_takes_the_clock_s() -> None:
    timeless = BestBidAsk("BTC-USD", Decimal("99"), Decimal("101"), datetime.fromtimestamp(0, UTC))
    tick = ticker_from_book(timeless, None, 1, NOW)
    assert tick is not None
    assert tick.time == NOW


def test_books_that_are_no_price_give_no_ticker() -> None:
    for bid, ask in (("NaN", "100"), ("99", "Infinity"), ("101", "100"), ("-1", "-1"), ("sNaN", "1")):
        assert ticker_from_book(book(bid, ask), None, 1, NOW) is None, (bid, ask)
    tick = ticker_from_book(book("-1", "50"), None, 1, NOW)  # a negative side counts as empty
    assert tick is not None
    assert tick.best_bid == tick.best_ask == 50.0
