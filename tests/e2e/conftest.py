"""The platform on loopback plus Debian's Chromium, driven by Playwright (no browser download).

The platform runs on its own event loop in a background thread, so the tests can use
Playwright's synchronous API while tickers, bots and WebSockets keep flowing.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import urllib.request
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from streambot.api.dashboard import dashboard_dir
from streambot.api.server import RunningApi, start_api
from streambot.app import Platform
from streambot.config import Settings

CHROMIUM = Path(os.environ.get("STREAMBOT_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def _skip_reason() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (.ci/run does) to run the browser tests"
    if dashboard_dir() is None:
        return "the dashboard is not built: `make test` builds it (or `npm ci && npm run build` in web/)"
    return None


@dataclass
class Live:
    """The running platform, reachable from the test thread."""

    platform: Platform
    api: RunningApi

    @property
    def url(self) -> str:
        return self.api.url

    @property
    def token(self) -> str:
        return self.platform.api_token

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """A REST call with the token, from the test thread (blocking is fine here)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read()
        return json.loads(text) if text else None

    def inject_fault(self, fault: dict[str, Any]) -> Any:
        simulator = self.platform.simulator
        assert simulator is not None, "paper mode runs the simulator"
        request = urllib.request.Request(
            f"{simulator.rest_url}/sim/faults",
            data=json.dumps(fault).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


class _PlatformThread:
    def __init__(self, data_dir: Path) -> None:
        self.settings = Settings(
            data_dir=data_dir,
            port=0,
            sim_port=0,
            sim_seed=11,
            demo_bots=False,
            order_cooldown_s=0.0,
        )
        self.started: Future[Live] = Future()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="streambot-e2e", daemon=True)

    def start(self) -> Live:
        self._thread.start()
        return self.started.result(timeout=60)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        try:
            platform = await Platform.open(self.settings)
        except BaseException as exc:
            self.started.set_exception(exc)
            return
        try:
            await platform.start()
            api = await start_api(platform, "127.0.0.1", 0)
        except BaseException as exc:
            self.started.set_exception(exc)
            await platform.stop()
            return
        self.started.set_result(Live(platform, api))
        try:
            await self._stop.wait()
        finally:
            await api.stop()
            await platform.stop()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    reason = _skip_reason()
    if reason:
        if os.environ.get("STREAMBOT_REQUIRE_BROWSER") == "1":
            # CI installed what these tests need; skipping would hide a broken dashboard.
            pytest.fail(f"browser tests required (STREAMBOT_REQUIRE_BROWSER=1) but {reason}")
        pytest.skip(reason)
    runner = _PlatformThread(tmp_path_factory.mktemp("e2e") / "data")
    live = runner.start()
    try:
        yield live
    finally:
        runner.stop()


@pytest.fixture(scope="module")
def browser(live: Live) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def signed_in_page(browser: Browser, live: Live, width: int, height: int) -> Iterator[Page]:
    """A fresh browser profile (empty localStorage) of this size, signed in with ?token=; the
    page must not throw."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(30_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live.url}/?token={live.token}")
    # Signed in once the app has stored the token and taken it out of the address bar: a test
    # that navigates before that lands on the sign-in form (seen in CI on a phone-sized page).
    page.wait_for_url(lambda url: "token=" not in url)
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page threw: {errors}"


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    """A fresh signed-in page at 1280×800."""
    yield from signed_in_page(browser, live, 1280, 800)


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
