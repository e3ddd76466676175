"""``streambot cluster --workers 2`` on the real Redis and PostgreSQL: the simulator, the feed, two
workers and the API come up as children of one process group, the workers report through
``GET /api/v1/cluster``, and one SIGTERM to the launcher stops every child."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

pytestmark = pytest.mark.integration

TOKEN = "launcher-test-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_cluster_starts_the_topology_and_one_sigterm_stops_it(
    tmp_path: Path, database_url: str, redis_url: str, cluster_name: str
) -> None:
    port = _free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "STREAMBOT_DATA_DIR": str(tmp_path / "data"),
        "STREAMBOT_DATABASE_URL": database_url,
        "STREAMBOT_REDIS_URL": redis_url,
        "STREAMBOT_CLUSTER_NAME": cluster_name,
        "STREAMBOT_PORT": str(port),
        "STREAMBOT_API_TOKEN": TOKEN,
        "STREAMBOT_PRODUCTS": "BTC-USD,ETH-USD",
        "STREAMBOT_DEMO_BOTS": "false",
    }
    log = tmp_path / "cluster.log"
    with log.open("ab") as out:
        launcher = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "streambot.cli",
            "cluster",
            "--workers",
            "2",
            env=env,
            stdout=out,
            stderr=out,
        )
    workers: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 90
            while loop.time() < deadline:
                assert launcher.returncode is None, log.read_text()[-3000:]
                try:
                    async with http.get(
                        f"http://127.0.0.1:{port}/api/v1/cluster",
                        headers={"Authorization": f"Bearer {TOKEN}"},
                    ) as response:
                        if response.status == 200:
                            body = await response.json()
                            workers = [w for w in body["workers"] if w["alive"]]
                            if len(workers) == 2:
                                assert body["role"] == "api"
                                break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
            assert len(workers) == 2, log.read_text()[-3000:]
        pgid = os.getpgid(workers[0]["pid"])
        assert pgid != os.getpgid(launcher.pid)  # the children's own group
        assert os.getpgid(workers[1]["pid"]) == pgid
        launcher.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(launcher.wait(), 40) == 0
        assert not any(_alive(w["pid"]) for w in workers)
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)  # nobody left in the group
    finally:
        if launcher.returncode is None:
            launcher.kill()
            await launcher.wait()
