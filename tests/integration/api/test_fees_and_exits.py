"""Fees in decisions and a person's exits, over HTTP on a paper platform (the simulator on loopback)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from streambot.domain import FeeSource
from tests.integration.api.conftest import Api


async def call(api: Api, method: str, path: str, body: object = None) -> tuple[int, Any]:
    async with api.http.request(method, api.url(path), headers=api.auth, json=body) as response:
        return response.status, None if response.status == 204 else await response.json()


async def until(api: Api, path: str, ok: Callable[[Any], bool], within: float = 15.0) -> Any:
    async with asyncio.timeout(within):
        while True:
            _, body = await call(api, "GET", path)
            if ok(body):
                return body
            await asyncio.sleep(0.1)


def bot_body(**params: object) -> dict[str, object]:
    return {"name": "t", "strategy": "threshold", "product_id": "BTC-USD", "params": params, "budget": "100"}


async def test_paper_fees_are_coinbases_entry_tier_and_the_simulator_reports_them(api: Api) -> None:
    status, fees = await call(api, "GET", "/api/v1/accounts/fees")
    assert status == 200
    assert (fees["maker_fee_rate"], fees["taker_fee_rate"], fees["source"]) == (
        "0.006",
        "0.012",
        "configured",
    )
    assert Decimal(fees["round_trip_pct"]) == Decimal("2.4")
    # The simulator serves transaction_summary as Coinbase does; the client reads it.
    tier = await api.platform.exchange.fee_tier()
    assert (tier.maker_fee_rate, tier.taker_fee_rate, tier.source) == (
        Decimal("0.006"),
        Decimal("0.012"),
        FeeSource.EXCHANGE,
    )


async def test_a_take_profit_below_the_round_trip_fee_is_refused_unless_allowed(api: Api) -> None:
    status, body = await call(api, "POST", "/api/v1/bots", bot_body(sell_rise_pct=0.5))
    assert status == 422
    [error] = body["detail"]
    assert error["loc"] == ["body", "params", "sell_rise_pct"]
    assert "round-trip fee: 2.40%" in error["msg"]
    assert "break-even is a rise of 2.43%" in error["msg"]
    for strategy, params, field in (
        ("dca", {"take_profit_pct": 1.0}, "take_profit_pct"),
        ("grid", {"levels": 20}, "levels"),
        ("ema_crossover", {"take_profit_pct": 2.0}, "take_profit_pct"),
    ):
        status, body = await call(api, "POST", "/api/v1/bots", {**bot_body(**params), "strategy": strategy})
        assert status == 422, strategy
        assert body["detail"][0]["loc"] == ["body", "params", field]
    status, created = await call(
        api, "POST", "/api/v1/bots", bot_body(sell_rise_pct=0.5, allow_below_fee=True)
    )
    assert status == 201
    assert created["allow_below_fee"] is True
    assert created["params"]["allow_below_fee"] is True
    # Strict: "yes" is no boolean.
    status, _ = await call(api, "POST", "/api/v1/bots", bot_body(sell_rise_pct=0.5, allow_below_fee="yes"))
    assert status == 422
    # An update is checked the same way; the defaults clear the fee.
    status, ok = await call(api, "POST", "/api/v1/bots", bot_body())
    assert status == 201
    status, body = await call(api, "PATCH", f"/api/v1/bots/{ok['id']}", {"params": {"sell_rise_pct": 1.0}})
    assert status == 422
    assert "break-even" in body["detail"][0]["msg"]


async def test_close_sells_the_whole_position_and_delete_asks_what_to_do_with_coins(api: Api) -> None:
    status, bot = await call(
        api, "POST", "/api/v1/bots", bot_body(buy_below=1e9, sell_rise_pct=50, order_pct=20)
    )
    assert status == 201
    bot_id = bot["id"]
    status, _ = await call(api, "POST", f"/api/v1/bots/{bot_id}/close")
    assert status == 409  # nothing to close yet
    await call(api, "POST", f"/api/v1/bots/{bot_id}/start")

    def mine(rows: list[dict[str, Any]]) -> dict[str, Any]:
        return next(row for row in rows if row["id"] == bot_id)

    held = await until(
        api, "/api/v1/bots/status/enhanced", lambda rows: Decimal(mine(rows)["position"]["base_size"]) > 0
    )
    # The fill is in the position before its order is stored as filled: a close is refused (409)
    # while the bot's order is under way, so the test waits for that too.
    await until(
        api,
        f"/api/v1/orders?bot_id={bot_id}",
        lambda page: bool(page["orders"]) and all(o["status"] == "filled" for o in page["orders"]),
    )
    row = mine(held)
    base = Decimal(row["position"]["base_size"])
    # A quote-sized buy fills on the product's base increment: no 16-place dust.
    increment = api.platform.order_path.products["BTC-USD"].base_increment
    assert base == base.quantize(increment)
    entry = Decimal(row["position"]["average_entry"])
    assert (
        Decimal(row["break_even_price"])
        == (entry / (1 - Decimal("0.012"))).quantize(Decimal("1e-12")).normalize()
    )
    await call(api, "POST", f"/api/v1/bots/{bot_id}/stop")

    status, body = await call(api, "DELETE", f"/api/v1/bots/{bot_id}")
    assert status == 409
    assert "?position=close" in body["detail"]
    assert "?position=keep" in body["detail"]

    status, closed = await call(api, "POST", f"/api/v1/bots/{bot_id}/close")
    assert status == 202
    assert closed["client_order_id"].endswith(f"-{bot_id}-2")
    assert Decimal(closed["base_size"]) == base
    flat = await until(
        api, "/api/v1/bots/status/enhanced", lambda rows: Decimal(mine(rows)["position"]["base_size"]) == 0
    )
    assert mine(flat)["break_even_price"] is None
    status, order = await call(api, "GET", f"/api/v1/orders/{closed['client_order_id']}")
    assert status == 200
    assert (order["side"], order["status"], Decimal(order["filled_size"])) == ("SELL", "filled", base)
    status, _ = await call(api, "POST", f"/api/v1/bots/{bot_id}/close")
    assert status == 409
    status, _ = await call(api, "DELETE", f"/api/v1/bots/{bot_id}")
    assert status == 204


async def test_deleting_with_position_keep_leaves_the_coins_as_unassigned_holdings(api: Api) -> None:
    status, bot = await call(
        api, "POST", "/api/v1/bots", bot_body(buy_below=1e9, sell_rise_pct=50, order_pct=20)
    )
    await call(api, "POST", f"/api/v1/bots/{bot['id']}/start")
    rows = await until(
        api,
        "/api/v1/bots/status/enhanced",
        lambda rows: any(r["id"] == bot["id"] and Decimal(r["position"]["base_size"]) > 0 for r in rows),
    )
    base = Decimal(next(r for r in rows if r["id"] == bot["id"])["position"]["base_size"])
    status, unassigned = await call(api, "GET", "/api/v1/accounts/unassigned")
    assert status == 200
    assert [u for u in unassigned if u["currency"] == "BTC"] == []
    status, _ = await call(api, "DELETE", f"/api/v1/bots/{bot['id']}?position=keep")
    assert status == 204
    api.platform.balances.invalidate()
    status, unassigned = await call(api, "GET", "/api/v1/accounts/unassigned")
    [btc] = [u for u in unassigned if u["currency"] == "BTC"]
    assert (btc["product_id"], Decimal(btc["base_size"])) == ("BTC-USD", base)
