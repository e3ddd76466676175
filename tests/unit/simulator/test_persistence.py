"""The paper account file: everything the engine holds comes back after a reopen, old rows too."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import orjson

from streambot.simulator.market import spec_for
from streambot.simulator.persistence import PaperAccountStore, open_account
from streambot.venues.matcher.engine import MatchingEngine
from streambot.venues.matcher.orders import NewOrder

T0 = 1_800_000_000.0


def engine() -> MatchingEngine:
    book = MatchingEngine(
        [spec_for("BTC-USD").product()], starting_balances={"USD": Decimal(10000)}, seed=3, now=T0
    )
    book.update_market("BTC-USD", Decimal("100000.00"), Decimal("100002.00"), T0)
    return book


async def test_orders_fills_and_balances_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "paper.sqlite"
    book = engine()
    store = PaperAccountStore(path)
    await open_account(store, book)
    book.place_order(NewOrder.market("m", "BTC-USD", "BUY", quote_size="100"), T0 + 1)
    book.place_order(NewOrder.limit("l", "BTC-USD", "BUY", base_size="0.001", limit_price="90000"), T0 + 2)
    await store.save(book.take_changes())
    await store.close()

    reopened = PaperAccountStore(path)
    saved = await reopened.open()
    await reopened.close()

    assert saved is not None
    assert saved.orders == book.list_orders()[::-1]
    assert saved.fills == book.list_fills()
    assert {a.currency: a for a in saved.accounts} == {a.currency: a for a in book.accounts()}


async def test_rows_written_before_stop_orders_existed_still_read(tmp_path: Path) -> None:
    path = tmp_path / "paper.sqlite"
    store = PaperAccountStore(path)
    await open_account(store, engine())
    await store.close()
    legacy = {  # an order row as the first release wrote it: no stop_price/stop_direction/triggered
        "sequence": 1,
        "order_id": "o1",
        "client_order_id": "c1",
        "product_id": "BTC-USD",
        "side": "BUY",
        "order_type": "LIMIT",
        "configuration": {"limit_limit_gtc": {"base_size": "0.001", "limit_price": "90000"}},
        "created_time": T0,
        "base_size": "0.001",
        "quote_size": None,
        "limit_price": "90000",
        "post_only": False,
        "status": "OPEN",
        "filled_size": "0",
        "filled_value": "0",
        "total_fees": "0",
        "number_of_fills": 0,
        "hold": "90.5400000000000000",
        "last_fill_time": None,
        "cancel_message": "",
    }
    db = sqlite3.connect(path)
    with db:
        db.execute("INSERT INTO orders VALUES ('o1', 1, 'c1', 'OPEN', ?)", (orjson.dumps(legacy),))
    db.close()

    reopened = PaperAccountStore(path)
    saved = await reopened.open()
    await reopened.close()

    assert saved is not None
    (order,) = saved.orders
    assert (order.order_id, order.limit_price, order.hold) == ("o1", Decimal(90000), Decimal("90.54"))
    assert (order.stop_price, order.stop_direction, order.triggered) == (None, None, False)
