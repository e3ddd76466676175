"""The trading engine on loopback: simulator → order path with risk → store → API."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streambot.api.live.frames import event_data
from streambot.domain import OrderStatus
from streambot.events import KillSwitchChanged, OrderUpdated, RiskResumed, SignalRaised
from tests.integration.trading.conftest import Trading

pytestmark = pytest.mark.integration

STEPS = ["intent", "risk_checked", "submitted", "acknowledged", "filled"]


async def test_an_order_goes_through_every_step_with_its_timestamp(trading: Trading) -> None:
    await trading.start()
    bot_id = await trading.bot()
    page = await trading.poll(f"/api/v1/orders?bot_id={bot_id}&status=filled", lambda body: body["orders"])
    order = page["orders"][0]
    for stamp in ("created_at", "risk_checked_at", "submitted_at", "acknowledged_at", "completed_at"):
        assert order[stamp], stamp
    assert order["error_code"] == ""
    assert Decimal(order["quote_size"]) == Decimal("50.00")

    topics = [e for e in trading.events if isinstance(e, OrderUpdated)]
    mine = [e for e in topics if e.order.client_order_id == order["client_order_id"]]
    assert [e.topic.removeprefix("orders.") for e in mine] == STEPS
    assert [e.ts for e in mine] == sorted(e.ts for e in mine)
    pushed = [event_data(e)["order"] for e in mine]  # as the dashboard receives them
    assert all("risk_checked_at" in o and "error_code" in o for o in pushed)
    signals = [e for e in trading.events if isinstance(e, SignalRaised)]
    assert signals[0].bot_id == bot_id
    assert signals[0].side == "BUY"

    # Positions are the sum of the fills; P&L has the bot and the total.
    fills = await trading.p.store.fills_for_bot(bot_id)
    positions = await trading.get(f"/api/v1/positions?bot_id={bot_id}")
    assert Decimal(positions[0]["base_size"]) == sum(f.size for f in fills)
    assert Decimal(positions[0]["average_entry"]) > 0
    pnl = await trading.get("/api/v1/pnl")
    assert [b["bot_id"] for b in pnl["bots"]] == [bot_id]
    assert Decimal(pnl["total_pnl"]) == Decimal(pnl["realized_pnl"]) + Decimal(pnl["unrealized_pnl"])

    one = await trading.get(f"/api/v1/orders/{order['client_order_id']}")
    assert one == order

    # The trade carries its order's ids and lifecycle timestamps next to the fields of the old shape.
    trades = await trading.poll(f"/api/v1/trades?bot_id={bot_id}", lambda body: body["trades"])
    trade = trades["trades"][-1]
    old_shape = {"id", "bot_id", "product_id", "side", "action", "base_size", "price", "quote_amount", "fee"}
    old_shape |= {"net_total", "status", "client_order_id", "exchange_order_id", "reason"}
    assert old_shape | {"created_at", "filled_at"} <= set(trade)
    assert trade["client_order_id"] == order["client_order_id"]
    assert trade["exchange_order_id"] == order["exchange_order_id"]
    for stamp in ("risk_checked_at", "submitted_at", "acknowledged_at", "completed_at"):
        assert trade[stamp] == order[stamp], stamp
    assert trade["created_at"] <= trade["risk_checked_at"] <= trade["submitted_at"]
    assert trade["submitted_at"] <= trade["acknowledged_at"] <= trade["completed_at"]


async def test_a_risk_rejection_is_stored_published_and_explained(trading: Trading) -> None:
    await trading.start(risk_max_order_notional=Decimal(20))
    bot_id = await trading.bot()
    page = await trading.poll(f"/api/v1/orders?bot_id={bot_id}&status=rejected", lambda body: body["orders"])
    order = page["orders"][0]
    assert order["error_code"] == "MAX_ORDER_NOTIONAL"
    assert "above the limit of 20.00 per order" in order["error"]
    assert order["risk_checked_at"]
    assert order["submitted_at"] is None
    rejected = [e for e in trading.events if isinstance(e, OrderUpdated) and e.topic == "orders.rejected"]
    assert rejected[0].order.error_code == "MAX_ORDER_NOTIONAL"
    assert (await trading.get("/api/v1/trades"))["trades"] == []
    risk = await trading.get("/api/v1/risk")
    assert risk["rejections"]["MAX_ORDER_NOTIONAL"] >= 1
    assert risk["limits"]["max_order_notional"] == "20"


async def test_an_order_too_small_to_size_is_counted_under_the_code_it_was_stored_with(
    trading: Trading,
) -> None:
    await trading.start()
    bot_id = await trading.bot(budget="5")  # 10% of it is below the simulator's 1 USD minimum
    page = await trading.poll(f"/api/v1/orders?bot_id={bot_id}&status=rejected", lambda body: body["orders"])
    assert page["orders"][0]["error_code"] == "BELOW_MINIMUM"
    rejections = (await trading.get("/api/v1/risk"))["rejections"]
    assert set(rejections) == {"BELOW_MINIMUM"}, rejections


async def test_kill_switch_through_the_api_blocks_orders_and_survives_a_restart(trading: Trading) -> None:
    await trading.start()
    status, body = await trading.post("/api/v1/risk/kill-switch", {"on": True, "reason": "maintenance"})
    assert status == 200, body
    assert body["changed"] is True
    assert body["state"]["kill_switch"] is True
    assert any(isinstance(e, KillSwitchChanged) and e.on is True for e in trading.events)

    await trading.restart()
    assert (await trading.get("/api/v1/risk"))["account"]["kill_switch"] is True
    bot_id = await trading.bot()
    page = await trading.poll(f"/api/v1/orders?bot_id={bot_id}&status=rejected", lambda body: body["orders"])
    assert page["orders"][0]["error_code"] == "KILL_SWITCH"
    assert "maintenance" in page["orders"][0]["error"]

    status, body = await trading.post("/api/v1/risk/kill-switch", {"on": False})
    assert status == 200
    assert body["state"]["kill_switch"] is False


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/risk/kill-switch", {"on": True, "surprise": 1}, "surprise"),
        ("/api/v1/risk/kill-switch", {"on": "maybe"}, "on"),
        ("/api/v1/risk/kill-switch", {"on": True, "scope": "bot"}, "bot_id"),
        ("/api/v1/risk/kill-switch", {"on": True, "scope": "bot", "bot_id": 999}, "bot_id"),
        ("/api/v1/risk/resume", {"scope": "galaxy"}, "scope"),
        ("/api/v1/risk/resume", {"scope": "account", "bot_id": 1}, "bot_id"),
    ],
)
async def test_bad_risk_requests_get_422_naming_the_field_and_change_nothing(
    trading: Trading, path: str, body: object, field: str
) -> None:
    await trading.start()
    before = await trading.get("/api/v1/risk")
    status, answer = await trading.post(path, body)
    assert status == 422, answer
    assert field in str(answer["detail"])
    after = await trading.get("/api/v1/risk")
    assert (after["account"], after["bots"]) == (before["account"], before["bots"])
    assert not any(s.kill_switch or s.halted for s in await trading.p.store.load_risk_states())


async def test_halted_survives_a_restart_allows_exits_and_is_lifted_only_through_the_api(
    trading: Trading,
) -> None:
    await trading.start()
    await trading.p.trading.risk.halt(None, "DAILY_LOSS_LIMIT", "lost 10% today")
    await trading.restart()
    risk = await trading.get("/api/v1/risk")
    assert risk["account"]["halted"] is True
    assert risk["account"]["halt_code"] == "DAILY_LOSS_LIMIT"

    bot_id = await trading.bot()
    rejected = f"/api/v1/orders?bot_id={bot_id}&status=rejected"
    await trading.until(lambda: _has_orders(trading, rejected))
    page = await trading.get(rejected)
    assert page["orders"][0]["error_code"] == "HALTED"
    shown = await trading.get(f"/api/v1/bots/{bot_id}")
    assert shown["state"] == "halted"  # the bot says why it does not trade
    assert "lost 10% today" in shown["error_reason"]
    assert "lost 10% today" in page["orders"][0]["error"]

    status, body = await trading.post("/api/v1/risk/resume", {"by": "alice"})
    assert status == 200, body
    assert body["changed"] is True
    assert body["state"]["halted"] is False
    assert any(isinstance(e, RiskResumed) and e.by == "alice" for e in trading.events)
    assert (await trading.get(f"/api/v1/bots/{bot_id}"))["state"] == "running"
    filled = await trading.until(
        lambda: _has_orders(trading, f"/api/v1/orders?bot_id={bot_id}&status=filled")
    )
    assert filled


async def _has_orders(trading: Trading, path: str) -> bool:
    return bool((await trading.get(path))["orders"])


async def test_orders_page_backwards_with_a_cursor_and_bad_cursors_are_named(trading: Trading) -> None:
    await trading.start()
    for _ in range(3):
        await trading.bot()
    await trading.until(lambda: _count_at_least(trading, 3))
    first = await trading.get("/api/v1/orders?limit=2")
    assert len(first["orders"]) == 2
    assert first["next_before"]
    second = await trading.get(f"/api/v1/orders?limit=2&before={first['next_before']}")
    assert second["orders"]
    seen = {o["client_order_id"] for o in first["orders"]}
    assert not seen & {o["client_order_id"] for o in second["orders"]}
    assert first["orders"][-1]["created_at"] >= second["orders"][0]["created_at"]
    async with trading.http.get(trading.url("/api/v1/orders?before=nonsense"), headers=trading.auth) as r:
        assert r.status == 422
        assert "before" in await r.text()
    async with trading.http.get(trading.url("/api/v1/orders?status=lost"), headers=trading.auth) as r:
        assert r.status == 422
        assert "status" in await r.text()
    for path in ("/api/v1/trades?bot_id=0", f"/api/v1/trades?bot_id={2**63}"):
        async with trading.http.get(trading.url(path), headers=trading.auth) as r:
            assert r.status == 422, path
            assert "bot_id" in await r.text()


async def _count_at_least(trading: Trading, n: int) -> bool:
    orders = await trading.p.store.page_orders(status=OrderStatus.FILLED.value, limit=100)
    return len(orders) >= n
