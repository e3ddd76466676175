"""Orders executed in pieces (the simulator's ``partial_fills`` fault): each piece a fill of its own,
the order OPEN with its rest on hold until the last piece, balances exactly the fills' sum."""

from __future__ import annotations

from decimal import Decimal

from streambot.venues.matcher.engine import MatchingEngine
from streambot.venues.matcher.orders import CANCELLED, FILLED, OPEN, NewOrder, SimOrder
from tests.unit.venues.matcher.test_engine import T0, available, engine, hold, placed


def _finish(book: MatchingEngine, order: SimOrder, *, step: float = 0.1) -> None:
    now = T0
    while order.order_id in {o.order_id for o in book.sliced()}:
        now += step
        book.fill_piece(order.order_id, now)


def test_a_quote_sized_market_buy_fills_in_pieces_spending_no_more_than_its_amount() -> None:
    book = engine()
    order = placed(
        book.place_order(
            NewOrder.market("q-1", "BTC-USD", "BUY", quote_size="300"), T0, pieces=3, piece_interval=0.1
        )
    )
    assert order.status == OPEN
    assert order.number_of_fills == 1
    assert order.pieces_left == 2
    assert order.filled_size > 0
    spent = order.filled_value + order.total_fees
    assert hold(book, "USD") == Decimal(300) - spent  # the rest of the amount, on hold
    book.update_market("BTC-USD", Decimal("100010.00"), Decimal("100012.00"), T0 + 0.05)
    book.fill_piece(order.order_id, T0 + 0.1)
    assert order.status == OPEN
    assert order.number_of_fills == 2
    book.fill_piece(order.order_id, T0 + 0.2)
    assert order.status == FILLED
    assert order.pieces_left == 0
    assert book.sliced() == []
    fills = book.fills_of(order.order_id)
    assert len(fills) == 3
    assert len({f.trade_id for f in fills}) == 3
    assert {f.price for f in fills} == {Decimal("100002.00"), Decimal("100012.00")}
    assert sum(f.size for f in fills) == order.filled_size
    assert sum(f.commission for f in fills) == order.total_fees
    assert order.filled_value + order.total_fees <= Decimal(300)
    assert hold(book, "USD") == 0
    assert available(book, "USD") == Decimal(10000) - order.filled_value - order.total_fees
    assert available(book, "BTC") == order.filled_size


def test_a_base_sized_sell_fills_in_increments_and_the_last_piece_takes_the_rest() -> None:
    book = engine()
    buy = placed(book.place_order(NewOrder.market("b", "BTC-USD", "BUY", base_size="0.01"), T0))
    assert buy.status == FILLED
    sell = placed(
        book.place_order(
            NewOrder.market("s", "BTC-USD", "SELL", base_size="0.01"), T0, pieces=4, piece_interval=0.1
        )
    )
    assert hold(book, "BTC") == Decimal("0.01") - sell.filled_size
    _finish(book, sell)
    sizes = [f.size for f in book.fills_of(sell.order_id)]
    assert len(sizes) == 4
    assert sum(sizes) == Decimal("0.01")
    assert sell.status == FILLED
    assert hold(book, "BTC") == 0
    assert available(book, "BTC") == 0


def test_a_crossing_limit_buy_fills_in_pieces_and_rests_when_the_touch_moves_away() -> None:
    book = engine()
    order = placed(
        book.place_order(
            NewOrder.limit("l-1", "BTC-USD", "BUY", base_size="0.003", limit_price="100005"),
            T0,
            pieces=3,
            piece_interval=0.1,
        )
    )
    assert order.number_of_fills == 1
    assert order.filled_size == Decimal("0.001")
    book.update_market("BTC-USD", Decimal("100100.00"), Decimal("100102.00"), T0 + 0.05)
    assert book.fill_piece(order.order_id, T0 + 0.1) is None  # no longer crosses: it rests
    assert order.status == OPEN
    assert order.pieces_left == 0
    assert book.sliced() == []
    assert book.working("BTC-USD")
    fills = book.update_market("BTC-USD", Decimal("100000.00"), Decimal("100004.00"), T0 + 0.2)
    assert [f.size for f in fills] == [Decimal("0.002")]
    assert order.status == FILLED
    assert hold(book, "USD") == 0


def test_a_sliced_limit_order_can_be_cancelled_between_pieces() -> None:
    book = engine()
    order = placed(
        book.place_order(
            NewOrder.limit("l-2", "BTC-USD", "BUY", base_size="0.003", limit_price="100005"), T0, pieces=3
        )
    )
    (result,) = book.cancel_orders([order.order_id], T0 + 0.05)
    assert result.success
    assert order.status == CANCELLED
    assert book.sliced() == []
    assert book.fill_piece(order.order_id, T0 + 0.1) is None
    assert hold(book, "USD") == 0
    assert available(book, "BTC") == order.filled_size > 0


def test_a_restored_account_resumes_the_pieces_still_to_come() -> None:
    book = engine()
    order = placed(
        book.place_order(
            NewOrder.market("r-1", "BTC-USD", "BUY", quote_size="300"), T0, pieces=3, piece_interval=0.1
        )
    )
    saved = book.all_state()
    again = engine()
    again.restore(
        saved.accounts,
        saved.orders,
        saved.fills,
        order_sequence=saved.order_sequence,
        fill_sequence=saved.fill_sequence,
    )
    (resumed,) = again.sliced()
    assert resumed.order_id == order.order_id
    assert resumed.pieces_left == 2
    _finish(again, resumed)
    assert resumed.status == FILLED
    assert len(again.fills_of(order.order_id)) == 3
    assert hold(again, "USD") == 0


def test_one_piece_is_the_ordinary_execution() -> None:
    book = engine()
    order = placed(book.place_order(NewOrder.market("o", "BTC-USD", "BUY", quote_size="300"), T0, pieces=1))
    assert order.status == FILLED
    assert order.number_of_fills == 1
    assert book.sliced() == []
