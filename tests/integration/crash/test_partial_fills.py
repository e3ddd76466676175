"""Partial fills through the whole platform, and the platform SIGKILLed between two of them.

``streambot run`` in paper mode trades while its simulator fills every order in pieces (the
``partial_fills`` fault: market orders in K fills spread over some hundred ms, each its own fill).
The process is killed while an order is half filled, and restarted: the simulator, persisted with
the paper account, finishes the order it was cut off from, as Coinbase would, and the platform,
reconciling, books what it missed.

Once the bots stop, our records and the exchange must agree fill for fill: every exchange fill is
stored once and to the right bot, no client_order_id reached the exchange twice, each bot's
position is its fills summed, and each order's trade has the order's side, the fills' summed size,
their average price, their summed commissions as fee and their summed value as quote amount.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.chaos import (
    assert_positions_are_fills,
    duplicates,
    fill_base,
    held_by_fills,
    position_diffs,
    report,
    scale,
    worst,
)
from tests.integration.crash.process import FINAL, Process, process, wait_for
from tests.integration.store.test_store import database_url

pytestmark = [pytest.mark.integration, pytest.mark.chaos]
# The fixtures: SQLite in the data dir or a fresh PostgreSQL database, and the process on it.
__all__ = ["database_url", "process"]

PIECES = 3
KILLS = {"sqlite": scale(2, 10), "postgresql": scale(1, 5)}
FAULT = {"fault": "partial_fills", "pieces": PIECES, "spread_ms": 600, "seconds": 3600}
# Figures reach the stores as exact decimals; only sums taken in another order differ, far below this.
TOLERANCE = Decimal("1e-12")


async def _half_filled(process: Process, seen: Collection[str] = ()) -> list[dict[str, Any]]:
    """Exchange orders with some of their pieces filled and some still to come (not in ``seen``)."""
    params = {"order_status": "OPEN", "limit": "100"}
    async with process.http.get(f"{process.sim}/orders/historical/batch", params=params) as response:
        assert response.status == 200, await response.text()
        orders = (await response.json())["orders"]
    return [
        o
        for o in orders
        if Decimal(o["filled_size"]) > 0 and o["order_type"] == "MARKET" and o["order_id"] not in seen
    ]


async def _stored_fills(database_url: str) -> list[dict[str, Any]]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT trade_id, order_id, bot_id, price, size, commission FROM fills")
            )
            return [dict(row._mapping) for row in rows]
    finally:
        await engine.dispose()


async def _trades(process: Process) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    before = None
    while True:
        page = await process.get("/trades?limit=1000" + (f"&before_id={before}" if before else ""))
        out += page["trades"]
        before = page["next_before_id"]
        if not before:
            return out


async def test_partial_fills_and_a_kill_between_two_of_them_lose_and_double_nothing(
    process: Process, database_url: str, request: pytest.FixtureRequest
) -> None:
    backend = request.node.callspec.params["database_url"]
    await process.start()
    await process.inject(FAULT)
    for product in ("BTC-USD", "ETH-USD"):
        bot = await process.post(
            "/bots",
            {
                "name": f"churn {product}",
                "strategy": "threshold",
                "product_id": product,
                # Buys on every tick while flat, sells on the smallest rise: an order every tick or two.
                "params": {
                    "buy_below": 1e9,
                    "sell_rise_pct": 0.0001,
                    "order_pct": 20,
                    "allow_below_fee": True,
                },
                "budget": "1000",
            },
        )
        await process.post(f"/bots/{bot['id']}/start")

    cut_off: dict[str, int] = {}  # exchange order id -> its fills when the process was killed
    for _ in range(KILLS[backend]):
        # Each kill cuts off an order of its own (not one the last restart is still finishing).
        half = await wait_for(lambda: _half_filled(process, cut_off), within=60)
        await process.kill()
        cut_off.update({o["order_id"]: int(o["number_of_fills"]) for o in half})
        await process.start()
        await process.inject(FAULT)  # faults live as long as the process
        assert duplicates(o["client_order_id"] for o in await process.exchange_orders()) == []
    await wait_for(lambda: _half_filled(process, cut_off), within=60)  # and more after the last restart

    for bot in await process.get("/bots"):
        await process.post(f"/bots/{bot['id']}/stop")

    async def all_final() -> bool:
        return all(o["status"] in FINAL for o in await process.orders())

    await wait_for(all_final, within=60)
    exchange_orders = {o["order_id"]: o for o in await process.exchange_orders()}
    assert all(o["status"] == "FILLED" for o in exchange_orders.values()), "an order left unfinished"
    orders = {o["client_order_id"]: o for o in await process.orders()}
    bot_of = {
        order_id: orders[o["client_order_id"]]["bot_id"]
        for order_id, o in exchange_orders.items()
        if o["client_order_id"] in orders
    }
    fills = await process.exchange_fills()
    positions = {p["bot_id"]: Decimal(p["base_size"]) for p in await process.get("/positions")}
    trades = {t["exchange_order_id"]: t for t in await _trades(process)}
    await process.stop()
    stored = await _stored_fills(database_url)

    # Nothing lost, nothing booked twice, each fill to its order's bot.
    stored_ids = Counter(f["trade_id"] for f in stored)
    exchange_ids = {f["trade_id"] for f in fills}
    unbooked = exchange_ids - set(stored_ids)
    unknown = set(stored_ids) - exchange_ids
    booked_twice = [t for t, n in stored_ids.items() if n > 1]
    wrong_bot = [f["trade_id"] for f in stored if bot_of.get(f["order_id"]) != f["bot_id"]]
    held = held_by_fills(fills, bot_of)

    # Each order's trade: its side, and its fills' size, average price, fee and quote amount summed.
    by_order: dict[str, list[dict[str, Any]]] = {}
    for fill in fills:
        by_order.setdefault(fill["order_id"], []).append(fill)
    trade_errors: list[str] = []
    fee_diff = Decimal(0)
    for order_id, its_fills in by_order.items():
        trade = trades.get(order_id)
        if trade is None:
            trade_errors.append(f"{order_id}: no trade")
            continue
        size = sum((fill_base(f) for f in its_fills), Decimal(0))
        value = sum((fill_base(f) * Decimal(f["price"]) for f in its_fills), Decimal(0))
        fee = sum((Decimal(f["commission"]) for f in its_fills), Decimal(0))
        fee_diff = max(fee_diff, abs(Decimal(trade["fee"]) - fee))
        checks = {
            "side": trade["side"] == exchange_orders[order_id]["side"],
            "size": abs(Decimal(trade["base_size"]) - size) < TOLERANCE,
            "price": abs(Decimal(trade["price"]) - value / size) < TOLERANCE * value / size,
            "fee": abs(Decimal(trade["fee"]) - fee) < TOLERANCE,
            "quote_amount": abs(Decimal(trade["quote_amount"]) - value) < TOLERANCE * value,
        }
        trade_errors += [f"{order_id}: {name} {trade}" for name, ok in checks.items() if not ok]

    partial = sum(1 for f in by_order.values() if len(f) > 1)
    resumed = sum(1 for order_id, n in cut_off.items() if len(by_order.get(order_id, ())) > n)
    report(
        f"partial_fills_restart_{backend}",
        kills=KILLS[backend],
        orders=len(exchange_orders),
        fills=len(fills),
        partial_fills=partial,
        cut_off_mid_order=len(cut_off),
        finished_after_restart=resumed,
        duplicates=len(duplicates(o["client_order_id"] for o in exchange_orders.values())),
        unbooked_fills=len(unbooked),
        booked_twice=len(booked_twice),
        trade_mismatches=len(trade_errors),
        position_diff=float(worst(position_diffs(positions, held))),
        fee_diff=float(fee_diff),
    )
    assert duplicates(o["client_order_id"] for o in exchange_orders.values()) == []
    assert set(bot_of) == set(exchange_orders), "an exchange order is not ours"
    assert not unbooked, f"exchange fills never booked: {sorted(unbooked)[:5]}"
    assert not unknown, f"booked fills the exchange never made: {sorted(unknown)[:5]}"
    assert not booked_twice
    assert not wrong_bot, f"fills booked to another bot: {wrong_bot[:5]}"
    assert not trade_errors, trade_errors[:5]
    assert_positions_are_fills(positions, held)
    assert partial >= 1, "no order filled in pieces"
    assert all(len(f) <= PIECES for f in by_order.values())
    assert resumed >= 1, "no order cut off by a kill was finished after the restart"
