"""Crash tests: ``streambot run`` in paper mode, SIGKILLed while it trades, on SQLite and PostgreSQL.

Every third life is killed at a random moment; the others kill themselves through the fault hook
(``STREAMBOT_FAULT_POINT``, trading/fault_point.py) exactly where an order is most at risk: between
the commit of its intent and its send, and between its send and the booking of its fills.

After every restart the exchange (the simulator's persisted paper account) and our records must
agree: every order that existed before the kill is settled by reconciliation, no client_order_id
reached the exchange twice, an order we marked as never sent is not at the exchange, and once the
bots stop, every bot's position equals the sum of its fills at the exchange.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.chaos import (
    assert_positions_are_fills,
    duplicates,
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

LIVES = ("random", "after_intent_commit", "after_send")
TRIALS = {"sqlite": scale(6, 25), "postgresql": scale(3, 12)}


async def _check_records(process: Process, killed_at: datetime) -> int:
    """What must hold as soon as the restarted process answers (reconciliation ran before).

    The bots trade on while this reads, so the exchange is read before our records and again after:
    every order is stored before it is sent, so all the first read lists must be recorded, and an
    order we marked as never sent must not turn up even in the later read.
    """
    sent_before = await process.exchange_orders()
    orders = await process.orders()
    sent_after = await process.exchange_orders()
    counts = Counter(o["client_order_id"] for o in sent_after)
    assert not [c for c, n in counts.items() if n > 1], "a client_order_id reached the exchange twice"
    ours = {o["client_order_id"]: o for o in orders}
    assert len(ours) == len(orders), "an order is listed twice"
    linked = Counter(o["exchange_order_id"] for o in orders if o["exchange_order_id"])
    assert not [e for e, n in linked.items() if n > 1], "two of our orders point at one exchange order"
    for order in sent_before:
        recorded = ours.get(order["client_order_id"])
        assert recorded is not None, f"exchange order {order['client_order_id']} is not recorded"
        assert recorded["exchange_order_id"] in {"", order["order_id"]}, (recorded, order)
    for order in orders:
        if datetime.fromisoformat(order["created_at"]) < killed_at:
            assert order["status"] in FINAL, (
                f"{order['client_order_id']} left {order['status']} by reconciliation"
            )
        if order["error_code"] == "NEVER_SUBMITTED":
            assert order["client_order_id"] not in counts
        if order["client_order_id"] in counts and order["status"] == "filled":
            assert order["exchange_order_id"]
    return len(orders)


async def test_sigkill_anywhere_in_the_order_path_leaves_no_duplicate_orphan_or_unknown_order(
    process: Process, request: pytest.FixtureRequest
) -> None:
    backend = request.node.callspec.params["database_url"]
    trials = TRIALS[backend]
    rng = random.Random(os.environ.get("STREAMBOT_CRASH_SEED", "5"))
    await process.start()
    for product in ("BTC-USD", "ETH-USD"):
        bot = await process.post(
            "/bots",
            {
                "name": f"churn {product}",
                "strategy": "threshold",
                "product_id": product,
                # Buys on every tick while flat, sells on the smallest rise or fall: an order every tick or
                # two, whichever way the price goes (a held bot with a falling price would otherwise wait).
                "params": {
                    "buy_below": 1e9,
                    "sell_rise_pct": 0.0001,
                    "stop_loss_pct": 0.0001,
                    "order_pct": 20,
                    "allow_below_fee": True,
                },
                "budget": "1000",
            },
        )
        await process.post(f"/bots/{bot['id']}/start")

    async def orders_in_this_life() -> bool:
        started = process.started_at
        return any(datetime.fromisoformat(o["created_at"]) > started for o in await process.orders())

    kills = Counter[str]()
    total_orders = 0
    for trial in range(trials):
        life = LIVES[trial % len(LIVES)]
        if life == "random":
            await wait_for(orders_in_this_life)
            await asyncio.sleep(rng.uniform(0.0, 0.6))
            await process.kill()
        else:
            # A clean stop, then a life that kills itself at the fault point with its first order.
            await process.stop()
            await process.start(fault_point=life)
            await process.killed_itself()
        kills[life] += 1
        killed_at = datetime.now(UTC)
        await process.start()
        total_orders = await _check_records(process, killed_at)

    # Stop trading and let everything settle; then positions are the exchange's fills, summed.
    for bot in await process.get("/bots"):
        await process.post(f"/bots/{bot['id']}/stop")

    async def all_final() -> bool:
        return all(o["status"] in FINAL for o in await process.orders())

    await wait_for(all_final)  # no order left unknown (or anything else not final)
    orders = {o["client_order_id"]: o for o in await process.orders()}
    # Nothing trades now: our records and the exchange must agree order for order.
    sent_orders = await process.exchange_orders()
    orphans = [s["client_order_id"] for s in sent_orders if s["client_order_id"] not in orders]
    twice = duplicates(s["client_order_id"] for s in sent_orders)
    by_exchange_id: dict[str, dict[str, Any]] = {}
    for sent in sent_orders:
        order = orders.get(sent["client_order_id"])
        assert order is not None, f"exchange order {sent['client_order_id']} is not recorded"
        assert order["exchange_order_id"] == sent["order_id"], (order, sent)
        assert Decimal(order["filled_size"]) == Decimal(sent["filled_size"]), (order, sent)
        assert (order["status"] == "filled") == (sent["status"] == "FILLED"), (order, sent)
        by_exchange_id[sent["order_id"]] = order
    # Positions are the exchange's fills, summed.
    fills = await process.exchange_fills()
    held = held_by_fills(fills, {e: o["bot_id"] for e, o in by_exchange_id.items()})
    positions = {p["bot_id"]: Decimal(p["base_size"]) for p in await process.get("/positions")}
    never_sent = sum(1 for o in orders.values() if o["error_code"] == "NEVER_SUBMITTED")
    report(
        f"crash_sigkill_{backend}",
        kills=sum(kills.values()),
        random_kills=kills["random"],
        after_intent_commit=kills["after_intent_commit"],
        after_send=kills["after_send"],
        orders=len(orders),
        fills=len(fills),
        never_sent=never_sent,
        duplicate_orders=len(twice),
        orphan_orders=len(orphans),
        unresolved=sum(1 for o in orders.values() if o["status"] not in FINAL),
        position_diff_max=float(worst(position_diffs(positions, held))),
    )
    assert not twice
    assert not orphans
    assert_positions_are_fills(positions, held)
    assert total_orders >= trials
    assert kills["after_send"] >= 1
    assert kills["after_intent_commit"] >= 1
