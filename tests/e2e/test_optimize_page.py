"""The Optimize page in Chromium: a bad search space refused with its field named, a small search
(three trials over a tiny recording) followed live to done, its best parameters shown and turned
into a stopped bot that the bots table lists; usable on a phone."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Live, screenshot
from tests.recordings import write_recording

pytestmark = pytest.mark.e2e

SPACE = {"fast": {"low": 3, "high": 8}, "slow": {"low": 12, "high": 30}}


def test_search_parameters_follow_it_and_create_a_bot(page: Page, live: Live) -> None:
    data = write_recording(live.platform.settings.data_dir / "optimize-recordings", 2_000)
    # As a user gets there: through the navigation (a hash-only goto and a reload raced the
    # sign-in once in CI and the page stayed on Trading).
    page.get_by_role("link", name="Optimize").click()
    page.wait_for_url(lambda url: url.endswith("#/optimize"))
    form = page.get_by_test_id("optimize-form")
    # The page asks for its lists once signed in; on a loaded machine that can take a while.
    expect(form).to_be_visible(timeout=60_000)
    form.locator("textarea[name=data]").fill(str(data))
    form.locator("select[name=strategy]").select_option("ema_crossover")
    form.locator("select[name=product_id]").select_option("BTC-USD")
    form.locator("input[name=trials]").fill("3")
    form.locator("input[name=jobs]").fill("1")
    form.locator("input[name=seed]").fill("3")

    form.locator("textarea[name=space]").fill(json.dumps({"slowest": {"low": 1, "high": 2}}))
    form.get_by_role("button", name="Start search").click()
    expect(page.get_by_test_id("optimize-error")).to_contain_text(
        "space.slowest: ema_crossover has no parameter 'slowest'"
    )

    form.locator("textarea[name=space]").fill(json.dumps(SPACE))
    form.get_by_role("button", name="Start search").click()
    row = page.locator("[data-testid^=optimization-][data-status]").first
    expect(row).to_have_attribute("data-status", "done", timeout=90_000)
    expect(row.get_by_test_id("optimization-trials")).to_have_text("3 / 3 trials")
    expect(row.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    expect(row.get_by_test_id("optimization-best")).not_to_have_text("—")

    detail = page.get_by_test_id("optimization-detail")
    best = detail.get_by_test_id("optimization-best-params")
    expect(best).to_contain_text("fast")
    expect(best).to_contain_text("slow")
    detail.locator("input[name=bot_name]").fill("tuned-ema")
    detail.get_by_test_id("optimization-create-bot").click()
    expect(page.get_by_text("Created tuned-ema")).to_be_visible()
    screenshot(page, "optimize-desktop")

    page.set_viewport_size({"width": 390, "height": 844})
    expect(detail).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "no sideways scrolling on a phone"
    screenshot(page, "optimize-phone")

    page.goto(f"{live.url}/#/")
    bot = page.locator("[data-bot-name=tuned-ema]")
    expect(bot).to_be_visible()
    expect(bot.get_by_test_id("bot-state")).to_contain_text("stopped")
    fast = live.call("GET", "/api/v1/optimizations")[0]["best_params"]["fast"]
    bots = {b["name"]: b for b in live.call("GET", "/api/v1/bots")}
    assert bots["tuned-ema"]["params"]["fast"] == fast
