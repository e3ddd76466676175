from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from streambot.api.server import RunningApi, start_api
from streambot.app import Platform
from streambot.config import Settings


@dataclass
class Running:
    platform: Platform
    api: RunningApi
    http: aiohttp.ClientSession

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.platform.api_token}"}

    def url(self, path: str) -> str:
        return f"{self.api.url}{path}"


def settings_for(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "port": 0,
        "sim_port": 0,
        "sim_seed": 7,
        "products": ("BTC-USD", "ETH-USD", "DOGE-USD"),
        "demo_bots": False,
        "order_cooldown_s": 0.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Running]:
    """The platform and its API on loopback, with a client session; stopped on the way out."""
    platform = await Platform.open(settings)
    await platform.start()
    api = await start_api(platform, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            yield Running(platform, api, http)
    finally:
        await api.stop()
        await platform.stop()


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    async with serving(settings_for(tmp_path / "data")) as served:
        yield served
