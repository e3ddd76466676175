"""The dashboard in a real browser against the real platform: prices, bots, orders, risk, feed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Live, screenshot

pytestmark = pytest.mark.e2e

# A feed line of a filled buy: "BUY 0.0123 ETH-USD @ 2,345.67 — filled".
FILLED_BUY = re.compile(r"BUY [\d.,]+ ETH-USD @ [\d.,]+ — filled")

PRODUCTS = ("BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "DOGE-USD", "BONK-USD", "AVNT-USD", "MOODENG-USD")


def test_page_loads_signed_in_with_live_prices(page: Page, live: Live) -> None:
    # The token moved from the address bar into the browser's storage.
    expect(page.get_by_test_id("tile-BTC-USD")).to_be_visible()
    assert "token" not in page.evaluate("location.href")
    assert page.evaluate("localStorage.getItem('streambot.token')") == live.token

    for product in PRODUCTS:
        expect(page.get_by_test_id(f"tile-{product}").get_by_test_id("price")).to_have_text(re.compile(r"\d"))
    expect(page.get_by_test_id("dashboard-connection")).to_have_attribute("data-state", "connected")
    expect(page.get_by_test_id("feed-connection")).to_have_attribute("data-state", "live")

    # Live: the prices move without a reload.
    tiles = page.get_by_test_id("market-tiles")
    first = tiles.inner_text()
    page.wait_for_function(
        "before => document.querySelector('[data-testid=market-tiles]').innerText !== before", arg=first
    )
    expect(page.get_by_test_id("metrics-panel")).to_contain_text("tick→decision p99")
    screenshot(page, "dashboard")

    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_test_id("tile-BTC-USD")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling on a phone"
    screenshot(page, "dashboard-phone")


def test_bot_created_in_the_form_trades_and_its_order_fills(page: Page, live: Live) -> None:
    page.get_by_test_id("new-bot").click()
    form = page.get_by_test_id("bot-form")
    form.locator("input[name=name]").fill("e2e buyer")
    form.locator("select[name=strategy]").select_option("threshold")
    form.locator("select[name=product_id]").select_option("ETH-USD")
    form.locator("input[name=budget]").fill("500")
    # Buy at once (any price is below a billion), never sell: exactly one order.
    form.locator("input[name='params.buy_below']").fill("1000000000")
    form.locator("input[name='params.sell_above']").fill("2000000000")
    form.locator("input[name='params.order_pct']").fill("10")
    form.get_by_role("button", name="Create bot").click()
    expect(form).to_be_hidden()

    row = page.locator("tr[data-bot-name='e2e buyer']")
    expect(row).to_be_visible()
    bot_id = int((row.get_attribute("data-testid") or "").removeprefix("bot-row-"))
    expect(row.get_by_test_id("bot-state")).to_have_text("stopped")
    row.get_by_test_id("start-bot").click()
    expect(row.get_by_test_id("bot-state")).to_have_text("running")

    progress = page.locator(f"[data-testid=order-progress][data-bot-id='{bot_id}']").first
    expect(progress).to_have_attribute("data-status", "filled")
    for step in ("signal", "risk", "submitted", "acknowledged", "filled"):
        expect(progress.locator(f"[data-step={step}]")).to_have_attribute("data-state", "done")
    expect(progress.locator("[data-step=filled] small")).to_have_text(re.compile(r"\d+(\.\d+)? m?s"))
    expect(page.get_by_test_id("toasts")).to_contain_text(f"e2e buyer (#{bot_id}): BUY ETH-USD filled")
    expect(page.get_by_test_id("execution-feed")).to_contain_text(FILLED_BUY)
    screenshot(page, "order-filled")

    # The bot's own page: its orders, its trades, and its own channel's events.
    row.get_by_role("link", name="e2e buyer").click()
    bot_page = page.get_by_test_id("bot-page")
    expect(bot_page).to_contain_text("e2e buyer")
    expect(bot_page.locator("[data-testid=order-progress]").first).to_have_attribute("data-status", "filled")
    expect(bot_page.get_by_test_id("bot-trades").locator("tbody tr")).to_have_count(1)
    expect(bot_page.get_by_test_id("bot-trades").locator("tbody tr")).to_contain_text("BUY")
    screenshot(page, "bot-page")
    # bots.state comes only on /api/v1/ws/bots/{bot_id}, so this line proves the page follows it.
    expect(bot_page).to_have_attribute("data-channel", "live")
    bot_page.get_by_test_id("stop-bot").click()
    expect(bot_page.get_by_test_id("bot-state")).to_have_text("stopped")
    expect(bot_page.get_by_test_id("execution-feed")).to_contain_text(f"bot {bot_id} stopped")


def test_kill_switch_halts_trading_and_says_so(page: Page, live: Live) -> None:
    risk = page.get_by_test_id("risk-panel")
    expect(risk.get_by_test_id("risk-state")).to_have_text("Trading active")
    risk.get_by_test_id("kill-switch").click()
    dialog = page.get_by_role("dialog", name="Stop all trading now?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Halt all trading").click()

    expect(risk.get_by_test_id("risk-state")).to_contain_text("HALTED")
    expect(risk.get_by_test_id("risk-state")).to_contain_text("kill switch on")
    expect(page.locator(".app.app-halted")).to_be_visible()
    assert live.call("GET", "/api/v1/risk")["account"]["kill_switch"] is True

    # Halted means halted: a bot that wants to buy at once has its order turned down by the risk check.
    bot = live.call(
        "POST",
        "/api/v1/bots",
        {
            "name": "e2e halted buyer",
            "strategy": "threshold",
            "product_id": "BTC-USD",
            "budget": "500",
            "params": {"buy_below": 1_000_000_000, "sell_above": 2_000_000_000, "order_pct": 10},
        },
    )
    live.call("POST", f"/api/v1/bots/{bot['id']}/start")
    try:
        progress = page.locator(f"[data-testid=order-progress][data-bot-id='{bot['id']}']").first
        expect(progress).to_have_attribute("data-status", "rejected")
        expect(progress.locator("[data-step=risk]")).to_have_attribute("data-state", "failed")
        expect(progress.locator("[data-step=submitted]")).to_have_attribute("data-state", "pending")
        expect(progress).to_contain_text("kill switch is on")
        screenshot(page, "kill-switch")
    finally:
        live.call("POST", f"/api/v1/bots/{bot['id']}/stop")
    assert not [t for t in live.call("GET", "/api/v1/trades")["trades"] if t["bot_id"] == bot["id"]]

    risk.get_by_test_id("resume").click()
    page.get_by_role("dialog", name="Resume trading?").get_by_role("button", name="Resume").click()
    expect(risk.get_by_test_id("risk-state")).to_have_text("Trading active")
    assert live.call("GET", "/api/v1/risk")["account"]["kill_switch"] is False


def test_dropped_feed_shows_reconnecting_then_live(page: Page, live: Live) -> None:
    badge = page.get_by_test_id("feed-connection")
    expect(badge).to_have_attribute("data-state", "live")
    before = badge.get_attribute("data-history") or ""
    live.inject_fault({"fault": "drop_connections"})
    # A reconnect can finish within one animation frame, so check the badge's recent states, and
    # only those after the fault: an earlier reconnect must not satisfy this.
    after_fault = rf"^{re.escape(before)} (\S+ )*(reconnecting|polling) (\S+ )*live$"
    # A loaded machine (CI) may take longer than the default 5 s to reconnect and tell the page.
    expect(badge).to_have_attribute("data-history", re.compile(after_fault), timeout=20_000)
    expect(badge).to_have_attribute("data-state", "live")
    expect(page.get_by_test_id("dashboard-connection")).to_have_attribute("data-state", "connected")


def test_a_stopped_feed_says_entries_blocked_in_the_header_and_the_risk_panel(page: Page, live: Live) -> None:
    risk = page.get_by_test_id("risk-panel")
    expect(risk.get_by_test_id("risk-state")).to_have_text("Trading active")
    entries = page.get_by_test_id("entries")
    expect(entries).to_have_text("Entries allowed")
    live.call("POST", "/api/v1/ws/websocket/stop")
    try:
        expect(page.get_by_test_id("feed-connection")).to_have_attribute("data-state", "polling")
        expect(entries).to_have_attribute("data-allowed", "false")
        expect(entries).to_have_text("Entries blocked: feed not live (polling)")
        expect(risk.get_by_test_id("risk-state")).to_have_text("Entries blocked: feed not live (polling)")
        screenshot(page, "entries-blocked")
    finally:
        live.call("POST", "/api/v1/ws/start-portfolio-stream")
    expect(page.get_by_test_id("feed-connection")).to_have_attribute("data-state", "live")
    expect(risk.get_by_test_id("risk-state")).to_have_text("Trading active")
    expect(entries).to_have_text("Entries allowed")
