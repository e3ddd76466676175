"""The backtest report in a real browser: complete from the HTML file alone, nothing fetched."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Request, sync_playwright

from streambot.backtest.html_report import write_report
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS
from tests.unit.backtest.support import generated

pytestmark = pytest.mark.e2e


def test_the_report_alone_shows_every_chart_without_a_request(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("STREAMBOT_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests required (STREAMBOT_REQUIRE_BROWSER=1) but no Chromium at {CHROMIUM}")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    result = generated(bots=2, points=5_000)
    written = write_report(result, tmp_path / "written")
    # Only the HTML file, moved away from its PNGs: the embedded charts must be enough.
    alone = tmp_path / "alone" / "report.html"
    alone.parent.mkdir()
    shutil.copy(written, alone)
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})

            def seen(request: Request) -> None:
                requests.append(request.url)

            page.on("request", seen)
            page.goto(alone.as_uri())
            widths = page.evaluate("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
            assert widths == [900] * 9
            assert page.locator("#metrics-table").is_visible()
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "backtest-report.png"), full_page=False)
        finally:
            browser.close()
    assert requests == [alone.as_uri()], requests
