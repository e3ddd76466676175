"""The whole topology as processes on the real Redis and PostgreSQL: a simulator, the feed, two
workers (the second one reaching Redis through a relay the test can cut) and the API.

While twenty bots trade: the workers share them with none on both; the first worker SIGKILLed,
its bots move to the other within 10 s and no client_order_id reaches the exchange twice; the
kill switch thrown through the API stops every order within 1 s; the worker cut off from Redis
stops placing orders (half the bots decide on the latest price every 0.2 s, so they would go on
trading without the suspension).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.chaos import (
    POSITION_TOLERANCE,
    assert_positions_are_fills,
    duplicates,
    exchange_pages,
    held_by_fills,
    oversold,
    position_diffs,
    sigkill,
    worst,
)
from tests.integration.cluster.proxy import TcpRelay
from tests.integration.crash.process import API, FINAL, free_port

pytestmark = pytest.mark.integration

TOKEN = "cluster-test-token"
BOTS = 20


class Topology:
    def __init__(self, tmp: Path, database_url: str, redis_url: str, cluster: str) -> None:
        self.tmp = tmp
        self.database_url = database_url
        self.redis_url = redis_url
        self.cluster = cluster
        self.sim_port = free_port()
        self.api_port = free_port()
        self.relay = TcpRelay(6379)
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self.engine = create_async_engine(database_url, poolclass=NullPool)

    def env(self, redis_url: str) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", str(self.tmp)),
            "STREAMBOT_DATA_DIR": str(self.tmp / "data"),
            "STREAMBOT_DATABASE_URL": self.database_url,
            "STREAMBOT_REDIS_URL": redis_url,
            "STREAMBOT_CLUSTER_NAME": self.cluster,
            "STREAMBOT_SIM_URL": f"http://127.0.0.1:{self.sim_port}",
            "STREAMBOT_PORT": str(self.api_port),
            "STREAMBOT_API_TOKEN": TOKEN,
            "STREAMBOT_PRODUCTS": "BTC-USD,ETH-USD",
            "STREAMBOT_DEMO_BOTS": "false",
            "STREAMBOT_ORDER_COOLDOWN_S": "0",
            "STREAMBOT_RISK_LOSS_COOLDOWN_S": "0",
            "STREAMBOT_RISK_MAX_TRADES_PER_HOUR": "0",
            "STREAMBOT_RISK_DAILY_LOSS_PCT": "0",
            "STREAMBOT_RISK_MAX_DRAWDOWN_PCT": "0",
            "STREAMBOT_RISK_STALE_PRICE_S": "0",
            "STREAMBOT_LEGACY_POLL_INTERVAL": "0.2",
            "STREAMBOT_RECONCILE_INTERVAL_S": "1",
            "STREAMBOT_BOT_LEASE_RENEW_S": "1",
            "STREAMBOT_BOT_LEASE_STALE_S": "4",
            "STREAMBOT_REDIS_LOST_S": "1",
            "STREAMBOT_LOG_LEVEL": "INFO",
            # A crash in native code prints every thread's stack into the process's log.
            "PYTHONFAULTHANDLER": "1",
        }

    async def spawn(self, name: str, *args: str, redis_url: str | None = None) -> None:
        with (self.tmp / f"{name}.log").open("ab") as log:
            self.procs[name] = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "streambot.cli",
                *args,
                env=self.env(redis_url or self.redis_url),
                stdout=log,
                stderr=log,
            )

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text()[-2500:]}" for path in sorted(self.tmp.glob("*.log"))
        )

    async def start(self) -> None:
        await self.relay.start()
        await self.spawn(
            "simulator", "simulate", "--port", str(self.sim_port), "--seed", "11", "--no-rate-limits"
        )
        await _wait(lambda: self._answers(f"http://127.0.0.1:{self.sim_port}{API}/products"), 30, self)
        await self.spawn("api", "api")  # first: it migrates the database the others share
        await _wait(lambda: self._answers(f"{self.api}/health"), 60, self)
        await self.spawn("feed", "feed")
        await self.spawn("worker-1", "worker")
        await self.spawn("worker-2", "worker", redis_url=f"redis://127.0.0.1:{self.relay.port}/0")

    async def _answers(self, url: str) -> bool:
        for name, proc in self.procs.items():
            if proc.returncode is not None and name != "worker-1":
                raise AssertionError(f"{name} exited with {proc.returncode}:\n{self.logs()}")
        try:
            async with self.http.get(url) as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/v1"

    async def get(self, path: str) -> Any:
        async with self.http.get(
            f"{self.api}{path}", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def metrics(self) -> str:
        async with self.http.get(
            f"http://127.0.0.1:{self.api_port}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            assert response.status == 200, await response.text()
            return await response.text()

    async def post(self, path: str, body: object = None) -> Any:
        async with self.http.post(
            f"{self.api}{path}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            assert response.status in {200, 201, 202}, await response.text()
            return await response.json()

    async def orders(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT client_order_id, bot_id, status, created_at, exchange_order_id FROM orders")
            )
            return [dict(row._mapping) for row in rows]

    async def exchange_client_ids(self) -> list[str]:
        orders = await exchange_pages(self.http, f"{self.sim}/orders/historical/batch", "orders")
        return [o["client_order_id"] for o in orders]

    async def exchange_fills(self) -> list[dict[str, Any]]:
        return await exchange_pages(self.http, f"{self.sim}/orders/historical/fills", "fills")

    @property
    def sim(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}{API}"

    async def stop(self) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await self.relay.close()
        await self.http.close()
        await self.engine.dispose()


async def _wait(condition: Callable[[], Awaitable[Any]], within: float, topology: Topology) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {within}s:\n{topology.logs()}")


@pytest.fixture
async def topology(
    tmp_path: Path, database_url: str, redis_url: str, cluster_name: str
) -> AsyncIterator[Topology]:
    running = Topology(tmp_path, database_url, redis_url, cluster_name)
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


async def test_two_workers_share_bots_fail_over_obey_the_kill_switch_and_redis(topology: Topology) -> None:
    t = topology
    for n in range(BOTS):
        bot = await t.post(
            "/bots",
            {
                "name": f"churn {n}",
                "strategy": "threshold",
                "product_id": "BTC-USD" if n % 2 else "ETH-USD",
                # Buys on every tick while flat, sells on the smallest rise or fall: an order every tick or
                # two, whichever way the price goes (a held bot with a falling price would otherwise wait).
                "params": {
                    "buy_below": 1e9,
                    "sell_rise_pct": 0.0001,
                    "stop_loss_pct": 0.0001,
                    "order_pct": 5,
                    "allow_below_fee": True,
                },
                "budget": "1000",
            },
        )
        if n % 4 == 0:
            await t.post(f"/ws/stop-streaming/{bot['id']}")  # decides on the latest price, polled
        await t.post(f"/bots/{bot['id']}/start")
    everything = {bot["id"] for bot in await t.get("/bots")}

    async def shared() -> dict[int, set[int]] | None:
        alive = [w for w in (await t.get("/cluster"))["workers"] if w["alive"]]
        owned = {w["pid"]: set(w["bots"]) for w in alive}
        if len(owned) != 2 or set().union(*owned.values()) != everything:
            return None
        # Heartbeats are snapshots a round apart: wait for a settled one (the leases table's key
        # is the bot, so no bot is ever leased to two workers at once).
        return (
            owned
            if sum(map(len, owned.values())) == BOTS
            and sorted(map(len, owned.values())) == [BOTS // 2, BOTS // 2]
            else None
        )

    owned = await _wait(shared, 60, t)
    pid_1 = t.procs["worker-1"].pid
    pid_2 = t.procs["worker-2"].pid
    assert set(owned) == {pid_1, pid_2}
    # The API process's health and metrics say so too, per worker.
    await _wait(lambda: _cluster_health(t, alive=2), 15, t)
    metrics = await t.metrics()
    for worker in (await t.get("/cluster"))["workers"]:
        assert f'streambot_cluster_worker_alive{{worker="{worker["id"]}"}} 1.0' in metrics
        assert f'streambot_cluster_worker_ticks_per_second{{worker="{worker["id"]}"}}' in metrics
        quantile = "streambot_cluster_worker_tick_to_decision_quantile_seconds"
        assert f'{quantile}{{quantile="0.99",worker="{worker["id"]}"}}' in metrics
    assert "streambot_cluster_workers_alive 2.0" in metrics
    assert "streambot_cluster_bots_without_owner 0.0" in metrics

    async def orders_of(bots: set[int]) -> bool:
        return len({o["bot_id"] for o in await t.orders()} & bots) >= 3

    await _wait(lambda: orders_of(owned[pid_1]), 60, t)
    await _wait(lambda: orders_of(owned[pid_2]), 60, t)

    # SIGKILL worker 1 while its bots trade: they move to worker 2 within 10 s.
    await sigkill(t.procs["worker-1"])
    killed = asyncio.get_running_loop().time()

    async def all_on_worker_2() -> bool:
        workers = {w["pid"]: w for w in (await t.get("/cluster"))["workers"]}
        return set(workers[pid_2]["bots"]) == everything and not workers[pid_1]["alive"]

    await _wait(all_on_worker_2, 15, t)
    moved_in = asyncio.get_running_loop().time() - killed
    assert moved_in < 10, f"the bots moved in {moved_in:.1f}s"
    await _wait(lambda: _cluster_health(t, alive=1), 15, t)
    print(f"bots of the SIGKILLed worker moved in {moved_in:.1f}s")
    moved = owned[pid_1]
    kill_time = datetime.now(UTC)
    await _wait(lambda: _orders_since(t, moved, kill_time), 30, t)  # and trade there
    exchange_ids = await t.exchange_client_ids()
    assert exchange_ids, "nothing reached the exchange"
    assert duplicates(exchange_ids) == [], "a client_order_id reached the exchange twice"
    ours = Counter(o["client_order_id"] for o in await t.orders())
    assert max(ours.values()) == 1

    # The kill switch, thrown in the API process, stops every order on the worker within 1 s.
    await t.post("/risk/kill-switch", {"on": True, "reason": "cluster test"})
    thrown = datetime.now(UTC)
    await asyncio.sleep(3)
    placed = [
        o
        for o in await t.orders()
        if o["created_at"] > thrown + timedelta(seconds=1) and o["status"] != "rejected"
    ]
    assert placed == [], f"orders placed more than 1 s after the kill switch: {placed[:3]}"
    await t.post("/risk/kill-switch", {"on": False, "reason": ""})
    resumed = datetime.now(UTC)
    await _wait(lambda: _orders_since(t, everything, resumed), 30, t)

    # Worker 2 cut off from Redis: after STREAMBOT_REDIS_LOST_S it places nothing, polled bots too.
    await t.relay.cut()
    cut = datetime.now(UTC)
    await asyncio.sleep(4)
    late = [o for o in await t.orders() if o["created_at"] > cut + timedelta(seconds=1.5)]
    assert late == [], f"orders stored while cut off from Redis: {late[:3]}"
    t.relay.restore()
    restored = datetime.now(UTC)
    await _wait(lambda: _orders_since(t, everything, restored), 30, t)

    # Stopped, settled: each bot's position in the API process is the exchange's fills, summed
    # (fills booked on two workers and by reconciliation, all reaching the API over the streams).
    for bot_id in everything:
        await t.post(f"/bots/{bot_id}/stop")
    await asyncio.sleep(1)  # the workers hear it and decide no more

    async def all_final() -> bool:
        return all(o["status"] in FINAL for o in await t.orders())

    await _wait(all_final, 60, t)
    bot_of = {o["exchange_order_id"]: o["bot_id"] for o in await t.orders() if o["exchange_order_id"]}
    fills = await t.exchange_fills()
    assert oversold(fills, bot_of) == {}, "a bot sold more than it held at the exchange"
    held = held_by_fills(fills, bot_of)
    assert len(held) >= BOTS // 2, f"too few bots traded: {held}"
    assert set(held) <= everything

    async def api_positions() -> dict[int, Decimal]:
        return {p["bot_id"]: Decimal(p["base_size"]) for p in await t.get("/positions")}

    async def booked_in_the_api() -> bool:
        # The last TradeBooked events reach the API over the streams a moment after the store.
        return worst(position_diffs(await api_positions(), held)) < POSITION_TOLERANCE

    with contextlib.suppress(AssertionError):  # the assertion below names the difference
        await _wait(booked_in_the_api, 30, t)
    positions = await api_positions()
    print(f"{len(bot_of)} orders at the exchange, {len(held)} bots with fills; positions = Σ fills")
    assert_positions_are_fills(positions, held)

    # A close from the API of a running bot: the worker owning it sells through its order path,
    # the API answers as one process would (202 with the order; 409 with the same reasons).
    params = {"buy_below": 1e9, "sell_rise_pct": 400, "order_pct": 5, "allow_below_fee": True}
    keeper = await t.post(
        "/bots",
        {"name": "keeper", "strategy": "threshold", "product_id": "BTC-USD", "params": params}
        | {"budget": "1000"},
    )
    idle = await t.post(
        "/bots",
        {
            "name": "idle",
            "strategy": "threshold",
            "product_id": "BTC-USD",
            "params": params | {"buy_below": 0.01},
            "budget": "1000",
        },
    )
    for bot in (keeper, idle):
        await t.post(f"/bots/{bot['id']}/start")

    async def holds() -> bool:
        held = {p["bot_id"]: Decimal(p["base_size"]) for p in await t.get("/positions")}
        return held.get(keeper["id"], Decimal(0)) > 0

    await _wait(holds, 30, t)
    await _wait(lambda: _owned(t, idle["id"]), 15, t)
    code, refused = await _close(t, idle["id"])
    assert code == 409
    assert refused["detail"] == f"bot {idle['id']} has no position to close"
    code, closed = await _close(t, keeper["id"])
    assert code == 202, closed
    assert closed["product_id"] == "BTC-USD"
    assert Decimal(closed["base_size"]) > 0
    await _wait(lambda: _final(t, closed["client_order_id"]), 30, t)
    assert closed["client_order_id"] in await t.exchange_client_ids()
    sold = [o for o in await t.orders() if o["client_order_id"] == closed["client_order_id"]]
    assert sold[0]["bot_id"] == keeper["id"]
    assert sold[0]["status"] == "filled"
    # Stopped, its last order settled: the API process closes it itself (no worker holds it).
    await t.post(f"/bots/{keeper['id']}/stop")
    await asyncio.sleep(1)
    if await holds():  # it bought again before it stopped
        code, again = await _close(t, keeper["id"])
        assert code == 202, again
        await _wait(lambda: _final(t, again["client_order_id"]), 30, t)


async def _cluster_health(t: Topology, alive: int) -> bool:
    async with t.http.get(f"{t.api}/health") as response:
        cluster = (await response.json())["components"]["cluster"]
    return bool(cluster["workers_alive"] == alive and cluster["bots_without_owner"] == [] and cluster["ok"])


async def _owned(t: Topology, bot_id: int) -> bool:
    return any(bot_id in w["bots"] for w in (await t.get("/cluster"))["workers"] if w["alive"])


async def _close(t: Topology, bot_id: int) -> tuple[int, dict[str, Any]]:
    """POST close until the owner answers: a bot just adopted may not run yet (no worker answers)
    or may have a buy of its own under way (409, as in one process), for a moment."""
    for _ in range(50):
        async with t.http.post(
            f"{t.api}/bots/{bot_id}/close", headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            body = await response.json()
            detail = str(body.get("detail", ""))
            if response.status != 409 or ("under way" not in detail and "no cluster worker" not in detail):
                return response.status, dict(body)
        await asyncio.sleep(0.2)
    raise AssertionError(f"the close of bot {bot_id} was never answered:\n{t.logs()}")


async def _final(t: Topology, client_order_id: str) -> bool:
    return any(o["client_order_id"] == client_order_id and o["status"] in FINAL for o in await t.orders())


async def _orders_since(t: Topology, bots: set[int], since: datetime) -> bool:
    return any(o["bot_id"] in bots and o["created_at"] > since for o in await t.orders())
