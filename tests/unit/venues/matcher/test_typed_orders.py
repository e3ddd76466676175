"""``place_typed``: an in-process caller's typed order gets what the same order sent as a wire
request gets (``place_order``): the same order, fills and balances, or the same refusal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streambot.venues.matcher.orders import NewOrder, PlaceResult
from tests.unit.venues.matcher.test_engine import T0, engine

D = Decimal
CASES: list[tuple[str, str, Decimal | None, Decimal | None, Decimal | None]] = [
    # (product, side, quote_size, base_size, limit_price)
    ("BTC-USD", "BUY", D("250.00"), None, None),
    ("BTC-USD", "BUY", None, D("0.001"), None),
    ("BTC-USD", "BUY", D("25E1"), None, None),  # an exponent: the digits as a string would give
    ("BTC-USD", "BUY", None, D("0.001"), D("99000.00")),  # rests
    ("BTC-USD", "BUY", None, D("0.001"), D("100005.00")),  # crosses
    ("BTC-USD", "BUY", D("0.001"), None, None),  # too small
    ("BTC-USD", "BUY", D("250.001"), None, None),  # too precise
    ("BTC-USD", "BUY", D("99999999"), None, None),  # insufficient funds
    ("BTC-USD", "BUY", D("250"), D("0.001"), None),  # both sizes
    ("BTC-USD", "BUY", None, None, None),  # neither
    ("BTC-USD", "SELL", D("250"), None, None),  # a sell by quote
    ("BTC-USD", "SELL", None, D("0.001"), None),  # nothing to sell
    ("BTC-USD", "BUY", D("NaN"), None, None),
    ("BTC-USD", "BUY", None, D("0.001"), D("99000.001")),  # limit too precise
    ("BTC-USD", "BUY", None, D("-1"), None),
    ("BONK-USD", "BUY", D("10"), None, None),
    ("ETH-USD", "BUY", D("10"), None, None),  # not traded here
]


def wire(
    product: str, side: str, quote: Decimal | None, base: Decimal | None, limit: Decimal | None
) -> NewOrder:
    if limit is not None:
        assert base is not None
        return NewOrder.limit("c-1", product, side, base_size=base, limit_price=limit)
    return NewOrder.market("c-1", product, side, quote_size=quote, base_size=base)


def outcome(result: PlaceResult) -> object:
    return (result.order, result.rejection, result.configuration)


@pytest.mark.parametrize(("product", "side", "quote", "base", "limit"), CASES)
def test_a_typed_order_gets_what_the_same_wire_request_gets(
    product: str, side: str, quote: Decimal | None, base: Decimal | None, limit: Decimal | None
) -> None:
    by_wire, typed = engine(), engine()
    expected = by_wire.place_order(wire(product, side, quote, base, limit), T0 + 1)
    got = typed.place_typed("c-1", product, side, T0 + 1, quote_size=quote, base_size=base, limit_price=limit)
    assert outcome(got) == outcome(expected)
    assert typed.accounts() == by_wire.accounts()
    assert typed.list_fills() == by_wire.list_fills()


def test_a_typed_order_with_a_used_client_order_id_returns_the_first_order() -> None:
    book = engine()
    first = book.place_typed("c-1", "BTC-USD", "BUY", T0, quote_size=D("100"))
    again = book.place_typed("c-1", "BTC-USD", "BUY", T0, quote_size=D("200"))
    assert again.order is first.order
