"""The exchange misbehaving while a bot trades fast, as a reliability test that prints its figures
(tests/chaos.py): 429 and 5xx storms, latency past the client's timeout while the simulator (like
Coinbase) finishes the orders anyway, answers held back after the order was made, and refused
orders. Afterwards nothing is lost (every order the exchange has is ours, with its fills booked),
nothing was placed twice, no order is left unresolved, and the platform's own pace caused no 429.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from streambot.domain import OrderStatus
from streambot.events import OrderUpdated
from tests.chaos import LONG, report
from tests.integration.trading.conftest import Trading

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

STORM_S = 6.0 if LONG else 1.5
PHASES: list[dict[str, Any]] = [
    {"fault": "http_error", "status": 429, "seconds": STORM_S},
    {"fault": "http_error", "status": 503, "seconds": STORM_S},
    *([{"fault": "http_error", "status": 500, "seconds": STORM_S, "html": True}] if LONG else []),
    # Above the client's 0.5 s timeout: creates time out and the simulator makes the order anyway.
    {"fault": "latency", "ms": 900, "seconds": STORM_S * 2},
    {"fault": "slow_response", "ms": 900, "seconds": STORM_S * 2, "writes_only": True},
    {"fault": "reject_orders", "seconds": STORM_S},
]


async def test_storms_timeouts_and_rejects_lose_no_order_and_place_none_twice(trading: Trading) -> None:
    platform = await trading.start(
        exchange_timeout_s=0.5,
        order_unknown_grace_s=5.0,
        reconcile_interval_s=1.0,
        risk_loss_cooldown_s=0,
        risk_max_trades_per_hour=0,
        risk_daily_loss_pct=0,
        risk_max_drawdown_pct=0,
    )
    simulator = platform.simulator
    assert simulator is not None
    bot_id = await trading.churn_bot()

    def orders_made() -> int:
        return sum(
            1 for e in trading.events if isinstance(e, OrderUpdated) and e.order.status is OrderStatus.INTENT
        )

    rounds = 3 if LONG else 1
    for _ in range(rounds):
        for phase in PHASES:
            before = orders_made()
            await simulator.inject_fault(phase)

            async def fault_over() -> bool:
                return not await simulator.active_faults()

            await trading.until(fault_over, within=phase["seconds"] + 20)

            # Trading goes on between faults: the next one hits a bot that is trading again.
            def trading_again(before: int = before) -> bool:
                return orders_made() > before + 1

            try:
                await trading.until(trading_again, within=60)
            except AssertionError:
                raise AssertionError(f"the bot stopped trading after {phase}") from None

    await platform.bots.stop(bot_id)
    await simulator.clear_faults()
    await platform.order_path.drain()

    async def all_final() -> bool:
        return all(o.status.is_final for o in await platform.store.page_orders(bot_id=bot_id, limit=10_000))

    await trading.until(all_final, within=60)  # unknown outcomes resolved, by lookup or reconciliation
    ours = {o.client_order_id: o for o in await platform.store.page_orders(bot_id=bot_id, limit=10_000)}
    on_exchange = await platform.exchange.list_orders(product_ids=["BTC-USD"])
    counts = Counter(o.client_order_id for o in on_exchange)
    duplicates = sum(1 for n in counts.values() if n > 1)
    lost = [o.client_order_id for o in on_exchange if o.client_order_id not in ours]
    disagree = [
        o.client_order_id
        for o in on_exchange
        if o.client_order_id in ours
        and (
            ours[o.client_order_id].exchange_order_id != o.order_id
            or ours[o.client_order_id].filled_size != o.filled_size
        )
    ]
    exchange_fills = await platform.exchange.list_fills(order_ids=[o.order_id for o in on_exchange])
    booked = await platform.store.fills_for_bot(bot_id)
    held = sum((f.size if f.side.value == "BUY" else -f.size for f in exchange_fills), Decimal(0))
    position = platform.bots.position(bot_id).base
    statuses = Counter(o.status.value for o in ours.values())
    unknown_seen = {
        e.order.client_order_id
        for e in trading.events
        if isinstance(e, OrderUpdated) and e.order.status is OrderStatus.UNKNOWN
    }
    rate_limited = (await simulator.stats())["rate_limited"]
    report(
        "exchange_storms_timeouts_rejects",
        faults=len(PHASES) * rounds,
        orders=len(ours),
        filled=statuses["filled"],
        rejected=statuses["rejected"],
        never_sent=sum(1 for o in ours.values() if o.error_code == "NEVER_SUBMITTED"),
        unknown_outcomes=len(unknown_seen),
        unresolved=sum(1 for o in ours.values() if not o.status.is_final),
        lost_orders=len(lost),
        duplicate_orders=duplicates,
        disagreeing=len(disagree),
        fills_booked=len(booked),
        fills_on_exchange=len(exchange_fills),
        platform_429=rate_limited,
        position_diff=float(abs(position - held)),
    )
    assert duplicates == 0
    assert not lost, lost
    assert not disagree, disagree
    assert sorted(f.trade_id for f in booked) == sorted(f.trade_id for f in exchange_fills)
    assert position == held
    assert rate_limited == 0  # every 429 the bot saw was an injected one
    assert statuses["rejected"] >= 1  # the refused orders were stored as such
    assert unknown_seen  # the latency phases did produce unknown outcomes, and all were resolved
