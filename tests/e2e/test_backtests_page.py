"""The Backtests page in Chromium: a bot's "Backtest this bot", the run followed live to done, its
report and charts opened; a missing data file refused with the field named."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Live, screenshot
from tests.integration.api.backtest_recording import BOTS, write_recording

pytestmark = pytest.mark.e2e


def test_backtest_a_bot_see_it_finish_and_open_its_report(page: Page, live: Live) -> None:
    write_recording(live.platform.settings.data_dir / "recordings", 3_000)
    bot = live.call("POST", "/api/v1/bots", BOTS[0])
    page.goto(f"{live.url}/#/bots/{bot['id']}")
    page.reload()
    page.get_by_test_id("backtest-this-bot").click()
    form = page.get_by_test_id("backtest-form")
    expect(form).to_be_visible()
    expect(form.get_by_role("checkbox", name=BOTS[0]["name"])).to_be_checked()

    form.locator("textarea[name=data]").fill("missing.jsonl")
    form.get_by_role("button", name="Start backtest").click()
    expect(page.get_by_test_id("backtest-error")).to_contain_text("data.0: 'missing.jsonl' does not exist")

    form.locator("textarea[name=data]").fill("recordings")
    form.get_by_role("button", name="Start backtest").click()
    row = page.locator("[data-testid^=backtest-][data-state]").first
    expect(row).to_have_attribute("data-state", "done", timeout=90_000)
    expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(row).to_contain_text("3,000 ticks")

    row.get_by_role("button", name="Report").click()
    report = page.get_by_test_id("backtest-report")
    expect(report.get_by_test_id("backtest-bots")).to_contain_text(BOTS[0]["name"])
    frame = page.frame_locator("[data-testid=report-frame]")
    expect(frame.locator("#metrics-table")).to_be_visible()
    charts = report.get_by_test_id("backtest-charts").locator("img")
    expect(charts.first).to_be_visible()
    # Every chart loads (one that fails keeps naturalWidth 0 and the wait times out); the first
    # one shown does not mean the others have arrived.
    loaded = "Array.from(document.querySelectorAll('[data-testid=backtest-charts] img'))"
    page.wait_for_function(f"{loaded}.length > 0 && {loaded}.every(i => i.complete && i.naturalWidth > 0)")
    screenshot(page, "backtests-page")
