"""Live mode against the simulator with JWT checks on: what a live start trades, and what it
says about a key that cannot trade (one line, exit code 2, with no retries)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from streambot.api.server import start_api
from streambot.app import Platform, StartupError
from streambot.clock import SystemClock
from streambot.config import Settings
from streambot.domain import BotState
from streambot.exchange import ExchangeError
from streambot.simulator.server import Simulator, SimulatorConfig
from tests.integration.platform.conftest import settings_for

pytestmark = pytest.mark.integration

PRODUCTS = ("BTC-USD", "ETH-USD")
KEY = "organizations/org-1/apiKeys/key-1"
VIEW_ONLY = "organizations/org-1/apiKeys/view-only"
STREAMBOT = Path(sys.executable).parent / "streambot"  # the installed command, as a user runs it


def ec_pem() -> str:
    return (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
        .decode()
    )


class AheadClock(SystemClock):
    """The exchange's clock ten minutes ahead of this machine's."""

    def time(self) -> float:
        return super().time() + 600

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=600)


@dataclass
class Venue:
    sim: Simulator
    secrets: dict[str, str]

    def settings(
        self, data_dir: Path, name: str = KEY, secret: str | None = None, **more: object
    ) -> Settings:
        return settings_for(
            data_dir,
            mode="live",
            market_data="coinbase",
            coinbase_rest_url=self.sim.rest_url,
            coinbase_ws_url=self.sim.ws_url,
            coinbase_api_key=name,
            coinbase_api_secret=secret if secret is not None else self.secrets[name],
            products=PRODUCTS,
            demo_bots=True,
            **more,
        )


async def _venue(clock: SystemClock) -> Venue:
    secrets = {KEY: ec_pem(), VIEW_ONLY: ec_pem()}
    sim = Simulator(
        SimulatorConfig(
            products=PRODUCTS, seed=3, api_keys=secrets, key_scopes={VIEW_ONLY: frozenset({"view"})}
        ),
        clock,
    )
    await sim.start("127.0.0.1", 0)
    return Venue(sim, secrets)


@pytest.fixture
async def venue() -> AsyncIterator[Venue]:
    venue = await _venue(SystemClock())
    try:
        yield venue
    finally:
        await venue.sim.stop()


async def test_live_mode_creates_no_demo_bots_and_new_bots_start_stopped(
    venue: Venue, tmp_path: Path
) -> None:
    platform = await Platform.open(venue.settings(tmp_path / "data"))
    await platform.start()
    api = await start_api(platform, "127.0.0.1", 0)
    try:
        assert await platform.bots.list() == []
        auth = {"Authorization": f"Bearer {platform.api_token}"}
        bot = {"name": "b", "strategy": "threshold", "product_id": "BTC-USD", "params": {}}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{api.url}/api/v1/bots", headers=auth, json={**bot, "budget": 500}) as r:
                assert r.status == 201
                assert (await r.json())["state"] == "stopped"
            # Live: a budget is also bounded by the account's balance of the quote currency.
            async with http.post(f"{api.url}/api/v1/bots", headers=auth, json={**bot, "budget": 10_001}) as r:
                assert r.status == 422
                [error] = (await r.json())["detail"]
                assert error["loc"] == ["body", "budget"]
                assert "at most the account's USD balance of 10000" in error["msg"]
        plan = "\n".join(await platform.live_plan())
        assert f"LIVE TRADING with real money on {venue.sim.rest_url}" in plan
        assert "Products:     BTC-USD, ETH-USD" in plan
        assert "Running bots: none" in plan
        assert "Risk limits:  order ≤ 10000" in plan
    finally:
        await api.stop()
        await platform.stop()


async def test_the_first_live_start_stops_bots_left_running_in_paper_mode(
    venue: Venue, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    paper = await Platform.open(settings_for(data, products=PRODUCTS, demo_bots=True))
    await paper.start()
    demo = [b for b in await paper.bots.list() if b.state is BotState.RUNNING]
    kept = await paper.bots.create(
        name="kept", strategy="threshold", product_id="ETH-USD", params={}, budget=Decimal(100)
    )
    await paper.stop()
    assert demo

    live = await Platform.open(venue.settings(data))
    await live.start()
    try:
        assert [b.state for b in await live.bots.list()] == [BotState.STOPPED] * (len(demo) + 1)
        plan = "\n".join(await live.live_plan())
        assert "Running bots: none" in plan
        assert f"#{demo[0].id} {demo[0].name!r}" in plan
        # Started on purpose, it is what the plan says will trade.
        await live.bots.start(kept.id)
        plan = "\n".join(await live.live_plan())
        assert f"#{kept.id} 'kept': threshold on ETH-USD, budget 100 USD" in plan
    finally:
        await live.stop()
    again = await Platform.open(venue.settings(data))
    await again.start()
    try:  # only the first live start stops anything
        await asyncio.sleep(0)  # the background tasks begin before they are stopped
        assert (await again.bots.get(kept.id)).state is BotState.RUNNING
        assert again.stopped_for_live == []
    finally:
        await again.stop()


@pytest.mark.parametrize(
    ("name", "secret", "message"),
    [
        (KEY, "wrong", "Coinbase refused the API key (HTTP 401): the key name or private key is wrong"),
        (VIEW_ONLY, None, "the API key lacks the 'trade' permission"),
        ("key-1", "right", "must look like organizations/{org_id}/apiKeys/{key_id}"),
        (KEY, "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----", "not a readable PEM"),
    ],
)
async def test_a_key_that_cannot_trade_stops_the_start_in_one_sentence(
    venue: Venue, tmp_path: Path, name: str, secret: str | None, message: str
) -> None:
    secret = {"wrong": ec_pem(), "right": venue.secrets[KEY]}.get(secret or "", secret)
    # Refused at the first answer, not after retries (a retry loop would outlast the test's
    # timeout); how fast is a figure for the notes, not something a loaded machine can assert.
    with pytest.raises(StartupError, match=message.replace("(", r"\(").replace(")", r"\)")) as raised:
        await asyncio.wait_for(Platform.open(venue.settings(tmp_path / "data", name=name, secret=secret)), 30)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "data" / "streambot.db").exists()  # refused before anything was opened


async def test_a_clock_off_from_the_exchanges_is_named(tmp_path: Path) -> None:
    venue = await _venue(AheadClock())
    try:
        with pytest.raises(
            StartupError, match=r"this machine's clock is (599|600) s behind Coinbase's: sync"
        ):
            await Platform.open(venue.settings(tmp_path / "data"))
    finally:
        await venue.sim.stop()


@pytest.fixture
def simulator_process(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``streambot simulate --key-file`` as its own process: (its URL, the key file it checks)."""
    key_file = tmp_path / "sim_key.json"
    key_file.write_text(json.dumps({"name": KEY, "privateKey": ec_pem()}))
    os.chmod(key_file, 0o600)
    port = _free_port()
    process = subprocess.Popen(
        [str(STREAMBOT), "simulate", "--port", str(port), "--key-file", str(key_file)],
        env={**os.environ, "STREAMBOT_PRODUCTS": ",".join(PRODUCTS)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield url, key_file
    finally:
        process.terminate()
        process.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_streambot_run_with_a_wrong_key_exits_2_with_one_line_within_5_s(
    simulator_process: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = simulator_process
    wrong = tmp_path / "wrong_key.json"
    wrong.write_text(json.dumps({"name": KEY, "privateKey": ec_pem()}))
    os.chmod(wrong, 0o600)
    env = {
        **os.environ,
        "STREAMBOT_DATA_DIR": str(tmp_path / "data"),
        "STREAMBOT_PORT": "0",
        "STREAMBOT_MODE": "live",
        "STREAMBOT_MARKET_DATA": "coinbase",
        "STREAMBOT_COINBASE_REST_URL": url,
        "STREAMBOT_COINBASE_WS_URL": url.replace("http", "ws"),
        "STREAMBOT_COINBASE_KEY_FILE": str(wrong),
        "STREAMBOT_PRODUCTS": ",".join(PRODUCTS),
    }
    # The timeout is the guard against a start that retries a refused key instead of stopping.
    result = subprocess.run(
        [str(STREAMBOT), "run"], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert lines == [
        "streambot: Coinbase refused the API key (HTTP 401): the key name or private key is wrong, "
        "or the key was deleted; check STREAMBOT_COINBASE_KEY_FILE or STREAMBOT_COINBASE_API_KEY/_SECRET"
    ]


async def test_the_simulator_answers_key_permissions_and_enforces_them(venue: Venue) -> None:
    from streambot.venues.coinbase.client import CoinbaseRest

    clock = SystemClock()
    for name, can_trade in ((KEY, True), (VIEW_ONLY, False)):
        rest = CoinbaseRest(venue.sim.rest_url, clock=clock, api_key=name, api_secret=venue.secrets[name])
        try:
            permissions = await rest.key_permissions()
            assert (permissions.can_view, permissions.can_trade, permissions.can_transfer) == (
                True,
                can_trade,
                False,
            )
            assert await rest.accounts()
            cancelled = rest.cancel_orders(["no-such-order"])
            if can_trade:
                assert await cancelled == {"no-such-order": False}
            else:
                with pytest.raises(ExchangeError, match="HTTP 403 Missing required scopes"):
                    await cancelled
        finally:
            await rest.close()
