"""Issue 19 in a real browser at a desktop's 1440×900 and a phone's 390×844: the portfolio, Close,
delete with a choice, honest status, toasts and the notification centre, the bot form's errors,
cards instead of wide tables, and the live log view. Main views are saved under docs/screenshots."""

from __future__ import annotations

import itertools
import logging
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import Live, signed_in_page

pytestmark = pytest.mark.e2e

VIEWPORTS = {"desktop": (1440, 900), "phone": (390, 844)}
DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
_names = itertools.count(1)


@pytest.fixture(params=list(VIEWPORTS))
def screen(request: pytest.FixtureRequest, browser: Browser, live: Live) -> Iterator[Page]:
    """A fresh signed-in page at the parameter's size; its name is on ``page.screen_name``."""
    width, height = VIEWPORTS[request.param]
    for page in signed_in_page(browser, live, width, height):
        page.screen_name = request.param  # type: ignore[attr-defined]
        yield page


def shot(page: Page, name: str) -> None:
    DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOCS_SHOTS / f"{name}-{page.screen_name}.png"))  # type: ignore[attr-defined]


def no_sideways_scroll(page: Page) -> None:
    width = page.viewport_size["width"] if page.viewport_size else 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "no sideways scrolling"


# The controls (by test id) whose box any toast's box overlaps.
COVERED_CONTROLS = """ids => {
  const toasts = [...document.querySelectorAll('[data-testid=toast]')].map(t => t.getBoundingClientRect());
  return ids.filter(id => {
    const c = document.querySelector(`[data-testid=${id}]`)?.getBoundingClientRect();
    const over = t => t.left < c.right && c.left < t.right && t.top < c.bottom && c.top < t.bottom;
    return c && toasts.some(over);
  });
}"""


def holding_bot(live: Live, product: str = "ETH-USD") -> tuple[int, str]:
    """A running bot that buys at once and never sells by itself, once it holds its position."""
    name = f"e2e holder {next(_names)}"
    bot = live.call(
        "POST",
        "/api/v1/bots",
        {
            "name": name,
            "strategy": "threshold",
            "product_id": product,
            "budget": "500",
            "params": {"buy_below": 1_000_000_000, "sell_above": 2_000_000_000, "order_pct": 10},
        },
    )
    live.call("POST", f"/api/v1/bots/{bot['id']}/start")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = next(b for b in live.call("GET", "/api/v1/bots/status/enhanced") if b["id"] == bot["id"])
        if status["break_even_price"] is not None:
            live.call("POST", f"/api/v1/bots/{bot['id']}/stop")  # holds, buys no more
            return bot["id"], name
        time.sleep(0.2)
    raise AssertionError(f"{name} did not buy within 30 s")


def test_portfolio_shows_equity_holdings_positions_trades_and_close_sells(screen: Page, live: Live) -> None:
    bot_id, name = holding_bot(live)
    screen.get_by_test_id("nav").get_by_role("link", name="Portfolio").click()
    expect(screen.get_by_test_id("portfolio-equity")).to_have_text(re.compile(r"\d"))
    expect(screen.get_by_test_id("portfolio-cash")).to_have_text(re.compile(r"\d"))
    expect(screen.get_by_test_id("equity-chart").locator("canvas").first).to_be_visible()
    screen.get_by_test_id("range-1h").click()
    expect(screen.get_by_test_id("range-1h")).to_have_class(re.compile("active"))

    holdings = screen.get_by_test_id("holdings-table")
    expect(holdings).to_contain_text("USD")
    expect(holdings).to_contain_text("ETH")
    row = screen.get_by_test_id("positions-table-row").filter(has_text=name)
    expect(row).to_be_visible()
    expect(row).to_contain_text("ETH-USD")
    trades = screen.get_by_test_id("trades-table")
    expect(trades.get_by_test_id("trades-table-row").filter(has_text=name)).to_contain_text("BUY")

    # Filter and sort.
    trades.get_by_test_id("trades-table-filter").fill(name)
    expect(trades.get_by_test_id("trades-table-row")).to_have_count(1)
    if screen.viewport_size and screen.viewport_size["width"] > 700:
        trades.get_by_test_id("sort-product").click()
        expect(trades.get_by_test_id("sort-product")).to_have_attribute("aria-sort", "ascending")
    no_sideways_scroll(screen)
    shot(screen, "portfolio")

    # Close: confirmed, then sold through the order path; the sell shows with its P&L.
    row.get_by_test_id("close-position").click()
    dialog = screen.get_by_role("dialog", name=f"Close {name}'s position?")
    expect(dialog).to_contain_text("at the market")
    dialog.get_by_role("button", name="Sell position").click()
    expect(row).to_have_count(0, timeout=20_000)
    sell = trades.get_by_test_id("trades-table-row").filter(has_text="SELL")
    expect(sell).to_have_count(1)
    expect(sell).to_contain_text(re.compile(r"-?\d+\.\d\d"))
    assert not next(b for b in live.call("GET", "/api/v1/positions") if b["bot_id"] == bot_id)[
        "base_size"
    ].strip("0.")


def test_deleting_a_holding_bot_asks_and_kept_coins_show_as_unassigned(screen: Page, live: Live) -> None:
    bot_id, name = holding_bot(live, "SOL-USD")
    row = screen.locator(f"tr[data-bot-name='{name}']")
    expect(row.get_by_test_id("break-even")).to_be_visible()
    # Sell first or keep the coins: both choices are offered, never a silent orphan.
    expect(row.get_by_role("button", name="Delete", exact=True)).to_be_visible()
    row.get_by_role("button", name="Delete, keep coins").click()
    dialog = screen.get_by_role("dialog", name=f"Delete {name} and keep its coins?")
    expect(dialog).to_contain_text("unassigned holding")
    dialog.get_by_role("button", name="Delete, keep coins").click()
    expect(row).to_have_count(0)
    screen.get_by_test_id("nav").get_by_role("link", name="Portfolio").click()
    sol = screen.get_by_test_id("holdings-table-row").filter(has_text="SOL")
    expect(sol.locator("td[data-label=Unassigned]")).to_have_text(re.compile(r"[1-9]"))
    assert any(h["currency"] == "SOL" for h in live.call("GET", "/api/v1/accounts/unassigned"))
    assert all(b["id"] != bot_id for b in live.call("GET", "/api/v1/bots"))


def test_status_is_honest_and_goes_grey_when_the_api_is_lost(screen: Page, live: Live) -> None:
    api_badge = screen.get_by_test_id("dashboard-connection")
    feed = screen.get_by_test_id("feed-connection")
    expect(api_badge).to_have_attribute("data-state", "connected")
    expect(feed).to_have_text("Simulator feed live")
    expect(screen.get_by_test_id("entries")).to_have_text("Entries allowed")
    expect(screen.get_by_test_id("risk-state")).to_have_text("Trading active")

    screen.context.set_offline(True)
    try:
        expect(screen.get_by_test_id("app")).to_have_attribute("data-api", "lost", timeout=20_000)
        expect(api_badge).to_contain_text(re.compile(r"API lost · last update \d+ s ago"))
        expect(feed).to_have_attribute("data-state", "unknown")
        expect(screen.get_by_test_id("entries")).to_have_attribute("data-allowed", "null")
        expect(screen.get_by_test_id("risk-state")).to_contain_text("Unknown: no word from the API")
        expect(screen.get_by_test_id("tile-BTC-USD")).to_have_class(re.compile("stale"))
        shot(screen, "api-lost")
    finally:
        screen.context.set_offline(False)
    expect(api_badge).to_have_attribute("data-state", "connected", timeout=30_000)
    expect(feed).to_have_text("Simulator feed live")
    expect(screen.get_by_test_id("risk-state")).to_have_text("Trading active")


def test_toasts_name_the_bot_stay_few_and_the_centre_keeps_them(screen: Page, live: Live) -> None:
    bot_id, name = holding_bot(live, "XRP-USD")
    toasts = screen.get_by_test_id("toasts")
    # The page may open after the fill: the centre has it either way once it is told.
    expect(screen.get_by_test_id("app")).to_be_visible()
    for _ in range(5):
        holding_bot(live, "DOGE-USD")
    assert toasts.get_by_test_id("toast").count() <= 3, "a few toasts at once, the rest in the centre"
    if screen.viewport_size and screen.viewport_size["width"] > 700:
        # Read every box in one go: toasts come and go while a test looks at them one by one.
        covered = screen.evaluate(COVERED_CONTROLS, ["new-bot", "kill-switch", "notifications"])
        assert covered == [], f"toasts cover {covered}"
    screen.get_by_test_id("notifications").click()
    notices = screen.get_by_test_id("notice-list")
    expect(notices).to_contain_text(re.compile(r"e2e holder \d+ \(#\d+\): BUY DOGE-USD filled"))
    shot(screen, "notifications")
    del bot_id, name


def test_bot_form_speaks_in_sentences_by_the_field(screen: Page, live: Live) -> None:
    screen.get_by_test_id("new-bot").click()
    form = screen.get_by_test_id("bot-form")
    form.locator("input[name=name]").fill("e2e form")
    form.locator("select[name=strategy]").select_option("ema_crossover")
    form.locator("select[name=product_id]").select_option("BTC-USD")
    expect(form).to_contain_text("Fast (bars)")
    expect(form.get_by_test_id("budget-hint")).to_contain_text("cash available")

    form.locator("input[name=budget]").fill("1e30")
    form.locator("input[name='params.fast']").fill("1")
    form.get_by_role("button", name="Create bot").click()
    expect(form).to_contain_text("Budget must be at most 1,000,000.00 USD")
    expect(form).to_contain_text("Fast must be at least 2 bars.")

    # The server's cross-field rule comes back as a sentence under the field it is about.
    form.locator("input[name=budget]").fill("100")
    form.locator("input[name='params.fast']").fill("30")
    form.locator("input[name='params.slow']").fill("20")
    form.get_by_role("button", name="Create bot").click()
    fast = form.locator("label", has=screen.locator("input[name='params.fast']"))
    expect(fast.locator(".field-error")).to_have_text("Fast must be shorter than slow.")
    assert "Value error" not in form.inner_text()
    no_sideways_scroll(screen)
    shot(screen, "bot-form")


def test_every_view_fits_the_screen_with_cards_for_tables(screen: Page, live: Live) -> None:
    _, name = holding_bot(live, "BTC-USD")
    row = screen.locator(f"tr[data-bot-name='{name}']")
    width = VIEWPORTS[screen.screen_name][0]  # type: ignore[attr-defined]
    for what in ("bot-state", "start-bot"):
        box = row.get_by_test_id(what).bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= width, f"{what} is on the screen"
    expect(row.locator("td[data-label='P&L']")).to_be_visible()
    # The account's equity is on the first screen, not two screens down.
    strip = screen.get_by_test_id("equity-strip")
    expect(strip).to_contain_text(re.compile(r"Equity [\d,]+\.\d\d"))
    box = strip.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= VIEWPORTS[screen.screen_name][1]  # type: ignore[attr-defined]
    no_sideways_scroll(screen)
    shot(screen, "dashboard")
    for page_name in ("Portfolio", "Backtests", "Optimize", "Logs"):
        screen.get_by_test_id("nav").get_by_role("link", name=page_name).click()
        expect(screen.get_by_test_id("nav").get_by_role("link", name=page_name)).to_have_attribute(
            "aria-current", "page"
        )
        no_sideways_scroll(screen)
    screen.goto(f"{live.url}/#/backtests")
    expect(screen.get_by_test_id("backtests-panel")).to_contain_text("No backtests yet")


def test_live_log_view_filters_by_level_and_text(screen: Page, live: Live) -> None:
    logging.getLogger().setLevel(logging.INFO)
    logger = logging.getLogger("streambot.e2e")
    note = f"e2e evaluation note before the {screen.screen_name} page"  # type: ignore[attr-defined]
    logger.info("🤖 %s", note)
    screen.get_by_test_id("nav").get_by_role("link", name="Logs").click()
    lines = screen.get_by_test_id("log-lines")
    expect(lines).to_contain_text(note)
    expect(screen.get_by_test_id("logs-channel")).to_have_attribute("data-state", "live")
    logger.warning("🔗 e2e live warning %d", 7)
    expect(lines).to_contain_text("e2e live warning 7")  # pushed, no reload

    screen.get_by_test_id("log-level").select_option("WARNING")
    expect(lines).not_to_contain_text(note)
    expect(lines).to_contain_text("e2e live warning 7")
    screen.get_by_test_id("log-level").select_option("INFO")
    screen.get_by_test_id("log-search").fill(note)
    expect(screen.get_by_test_id("log-line")).to_have_count(1)
    no_sideways_scroll(screen)
    shot(screen, "logs")


def test_a_bots_chart_draws_its_strategys_indicators_and_marks_its_fills(screen: Page, live: Live) -> None:
    bot = live.call(
        "POST",
        "/api/v1/bots",
        {
            "name": f"e2e rsi {next(_names)}",
            "strategy": "rsi_reversion",
            "product_id": "ETH-USD",
            "budget": "100",
            "params": {"period": 5},
        },
    )
    screen.goto(f"{live.url}/#/bots/{bot['id']}")
    # Its parameters read as labelled values, not raw JSON.
    expect(screen.get_by_test_id("param-period")).to_have_text("Period5")
    expect(screen.get_by_test_id("param-order_pct")).to_have_text("Order size25%")
    legend = screen.get_by_test_id("chart-indicators")
    expect(legend).to_have_text("RSI 5")
    # The RSI has a pane of its own below the candles: a second row of canvases.
    chart = screen.get_by_test_id("bot-page").get_by_test_id("candle-chart")
    expect(chart.locator("table tr")).to_have_count(4)  # price pane, separator, RSI pane, time axis
    no_sideways_scroll(screen)
    shot(screen, "bot-indicators")


def test_without_sockets_the_page_polls_and_still_says_entries_are_blocked(screen: Page, live: Live) -> None:
    # Every dashboard WebSocket is refused: the page lives on REST polling alone.
    screen.route_web_socket(re.compile(r".*/api/v1/ws/.*"), lambda ws: ws.close(code=1011, reason="e2e"))
    screen.reload()
    expect(screen.get_by_test_id("dashboard-connection")).to_have_attribute("data-state", "polling")
    expect(screen.get_by_test_id("dashboard-connection")).to_have_text("API polling")
    expect(screen.get_by_test_id("feed-connection")).to_have_text("Simulator feed live")
    live.call("POST", "/api/v1/ws/websocket/stop")
    try:
        entries = screen.get_by_test_id("entries")
        expect(entries).to_have_text("Entries blocked: feed not live (polling)", timeout=15_000)
        expect(screen.get_by_test_id("risk-state")).to_have_text("Entries blocked: feed not live (polling)")
        expect(screen.get_by_test_id("feed-connection")).to_have_attribute("data-state", "polling")
    finally:
        live.call("POST", "/api/v1/ws/start-portfolio-stream")
    expect(screen.get_by_test_id("entries")).to_have_text("Entries allowed", timeout=15_000)
