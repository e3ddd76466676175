"""``streambot run`` in paper mode as a process the crash tests kill and restart on one data dir.

Its simulator is the embedded one (the paper account persisted in the data dir), reached on a fixed
port: the exchange's view (orders, fills) and its fault admin stay at one address across lives.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.chaos import exchange_pages, sigkill

TOKEN = "crash-test-token"
API = "/api/v3/brokerage"
FINAL = {"filled", "cancelled", "rejected", "failed"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """One ``streambot run`` on a data dir; killed and restarted on the same ports."""

    def __init__(self, data_dir: Path, http: aiohttp.ClientSession, database_url: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.http = http
        self.port = free_port()
        self.sim_port = free_port()
        self.proc: asyncio.subprocess.Process | None = None
        self.started_at = datetime.now(UTC)
        self.log = data_dir.parent / "streambot.log"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    @property
    def sim(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}{API}"

    async def start(self, fault_point: str | None = None) -> None:
        """Start a life; one with a fault point kills itself, maybe before it ever answers."""
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(self.data_dir)),
            "STREAMBOT_DATA_DIR": str(self.data_dir),
            "STREAMBOT_PORT": str(self.port),
            "STREAMBOT_SIM_PORT": str(self.sim_port),
            "STREAMBOT_API_TOKEN": TOKEN,
            "STREAMBOT_PRODUCTS": "BTC-USD,ETH-USD",
            "STREAMBOT_DEMO_BOTS": "false",
            "STREAMBOT_SIM_SEED": "11",
            "STREAMBOT_ORDER_COOLDOWN_S": "0",
            "STREAMBOT_RISK_LOSS_COOLDOWN_S": "0",
            "STREAMBOT_RISK_MAX_TRADES_PER_HOUR": "0",
            "STREAMBOT_RISK_DAILY_LOSS_PCT": "0",
            "STREAMBOT_RISK_MAX_DRAWDOWN_PCT": "0",
            "STREAMBOT_RECONCILE_INTERVAL_S": "1",
            "STREAMBOT_LOG_LEVEL": "WARNING",
            "STREAMBOT_DATABASE_URL": self.database_url,
        } | ({"STREAMBOT_FAULT_POINT": fault_point} if fault_point else {})
        if "PYTHONPATH" in os.environ:  # a checkout under test, not the installed streambot
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        self.started_at = datetime.now(UTC)
        with self.log.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                "from streambot.cli import main; main()",
                "run",
                env=env,
                stdout=log,
                stderr=log,
            )
        if fault_point is None:
            await self._wait_healthy()

    async def _wait_healthy(self, within: float = 60.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while asyncio.get_running_loop().time() < deadline:
            assert self.proc is not None
            if self.proc.returncode is not None:
                raise AssertionError(
                    f"streambot exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}"
                )
            try:
                async with self.http.get(f"{self.api}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise AssertionError(f"streambot did not answer within {within}s: {self.log.read_text()[-3000:]}")

    async def kill(self) -> None:
        assert self.proc is not None
        await sigkill(self.proc)
        self.proc = None

    async def killed_itself(self, within: float = 60.0) -> None:
        """Wait for the fault hook's SIGKILL."""
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), within)
        except TimeoutError:
            raise AssertionError(
                f"the fault hook did not kill streambot within {within}s: {self.log.read_text()[-4000:]}"
            ) from None
        assert code == -signal.SIGKILL, f"exited with {code}, not by the fault hook's SIGKILL"
        self.proc = None

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), timeout=30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None

    async def get(self, path: str) -> Any:
        async with self.http.get(
            f"{self.api}{path}", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def post(self, path: str, body: object = None) -> Any:
        async with self.http.post(
            f"{self.api}{path}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            assert response.status in {200, 201}, await response.text()
            return await response.json()

    async def orders(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        before = None
        while True:
            page = await self.get("/orders?limit=1000" + (f"&before={before}" if before else ""))
            out += page["orders"]
            before = page["next_before"]
            if not before:
                return out

    async def exchange_orders(self) -> list[dict[str, Any]]:
        return await exchange_pages(self.http, f"{self.sim}/orders/historical/batch", "orders")

    async def exchange_fills(self) -> list[dict[str, Any]]:
        return await exchange_pages(self.http, f"{self.sim}/orders/historical/fills", "fills")

    async def inject(self, fault: dict[str, Any]) -> None:
        """A fault in this life's simulator (faults do not outlive a process)."""
        url = f"http://127.0.0.1:{self.sim_port}/sim/faults"
        async with self.http.post(url, json=fault) as response:
            assert response.status == 200, await response.text()


@pytest.fixture
async def process(tmp_path: Path, database_url: str) -> AsyncIterator[Process]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        running = Process(tmp_path / "data", http, database_url)
        try:
            yield running
        finally:
            await running.stop()


async def wait_for(condition: Any, within: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {within}s")
