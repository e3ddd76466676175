"""Crash tests: ``streambot run`` in paper mode, SIGKILLed while it trades, on SQLite and PostgreSQL.

Every third life is killed at a random moment; the others kill themselves through the fault hook
(``STREAMBOT_FAULT_POINT``, trading/fault_point.py) exactly where an order is most at risk: between
the commit of its intent and its send, and between its send and the booking of its fills.

After every restart the exchange (the simulator's persisted paper account) and our records must
agree: every order that existed before the kill is settled by reconciliation, no client_order_id
reached the exchange twice, an order we marked as never sent is not at the exchange, and once the
bots stop, every bot's position equals the sum of its fills at the exchange.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.chaos import report, scale
from tests.integration.store.test_store import database_url

pytestmark = [pytest.mark.integration, pytest.mark.chaos]
__all__ = ["database_url"]  # the fixture: SQLite in the data dir, or a fresh PostgreSQL database

LIVES = ("random", "after_intent_commit", "after_send")
TRIALS = {"sqlite": scale(6, 25), "postgresql": scale(3, 12)}
TOKEN = "crash-test-token"
API = "/api/v3/brokerage"
FINAL = {"filled", "cancelled", "rejected", "failed"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """One ``streambot run`` on a data dir; killed and restarted on the same ports."""

    def __init__(self, data_dir: Path, http: aiohttp.ClientSession, database_url: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.http = http
        self.port = _free_port()
        self.sim_port = _free_port()
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
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
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

    async def _sim_pages(self, path: str, key: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = ""
        while True:
            params = {"limit": "1000"} | ({"cursor": cursor} if cursor else {})
            async with self.http.get(f"{self.sim}{path}", params=params) as response:
                assert response.status == 200, await response.text()
                body = await response.json()
            items += body[key]
            cursor = body.get("cursor") or ""
            if not cursor or not body.get("has_next", True):
                return items

    async def exchange_orders(self) -> list[dict[str, Any]]:
        return await self._sim_pages("/orders/historical/batch", "orders")

    async def exchange_fills(self) -> list[dict[str, Any]]:
        return await self._sim_pages("/orders/historical/fills", "fills")


@pytest.fixture
async def process(tmp_path: Path, database_url: str) -> AsyncIterator[Process]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        running = Process(tmp_path / "data", http, database_url)
        try:
            yield running
        finally:
            await running.stop()


async def _wait(condition: Any, within: float = 30.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"condition not met within {within}s")


async def _check_records(process: Process, killed_at: datetime) -> int:
    """What must hold as soon as the restarted process answers (reconciliation ran before).

    The bots trade on while this reads, so the exchange is read before our records and again after:
    every order is stored before it is sent, so all the first read lists must be recorded, and an
    order we marked as never sent must not turn up even in the later read.
    """
    sent_before = await process.exchange_orders()
    orders = await process.orders()
    sent_after = await process.exchange_orders()
    counts = Counter(o["client_order_id"] for o in sent_after)
    assert not [c for c, n in counts.items() if n > 1], "a client_order_id reached the exchange twice"
    ours = {o["client_order_id"]: o for o in orders}
    assert len(ours) == len(orders), "an order is listed twice"
    linked = Counter(o["exchange_order_id"] for o in orders if o["exchange_order_id"])
    assert not [e for e, n in linked.items() if n > 1], "two of our orders point at one exchange order"
    for order in sent_before:
        recorded = ours.get(order["client_order_id"])
        assert recorded is not None, f"exchange order {order['client_order_id']} is not recorded"
        assert recorded["exchange_order_id"] in {"", order["order_id"]}, (recorded, order)
    for order in orders:
        if datetime.fromisoformat(order["created_at"]) < killed_at:
            assert order["status"] in FINAL, (
                f"{order['client_order_id']} left {order['status']} by reconciliation"
            )
        if order["error_code"] == "NEVER_SUBMITTED":
            assert order["client_order_id"] not in counts
        if order["client_order_id"] in counts and order["status"] == "filled":
            assert order["exchange_order_id"]
    return len(orders)


async def test_sigkill_anywhere_in_the_order_path_leaves_no_duplicate_orphan_or_unknown_order(
    process: Process, request: pytest.FixtureRequest
) -> None:
    backend = request.node.callspec.params["database_url"]
    trials = TRIALS[backend]
    rng = random.Random(os.environ.get("STREAMBOT_CRASH_SEED", "5"))
    await process.start()
    for product in ("BTC-USD", "ETH-USD"):
        bot = await process.post(
            "/bots",
            {
                "name": f"churn {product}",
                "strategy": "threshold",
                "product_id": product,
                # Buys on every tick while flat, sells on the smallest rise or fall: an order every tick or
                # two, whichever way the price goes (a held bot with a falling price would otherwise wait).
                "params": {
                    "buy_below": 1e9,
                    "sell_rise_pct": 0.0001,
                    "stop_loss_pct": 0.0001,
                    "order_pct": 20,
                    "allow_below_fee": True,
                },
                "budget": "1000",
            },
        )
        await process.post(f"/bots/{bot['id']}/start")

    async def orders_in_this_life() -> bool:
        started = process.started_at
        return any(datetime.fromisoformat(o["created_at"]) > started for o in await process.orders())

    kills = Counter[str]()
    total_orders = 0
    for trial in range(trials):
        life = LIVES[trial % len(LIVES)]
        if life == "random":
            await _wait(orders_in_this_life)
            await asyncio.sleep(rng.uniform(0.0, 0.6))
            await process.kill()
        else:
            # A clean stop, then a life that kills itself at the fault point with its first order.
            await process.stop()
            await process.start(fault_point=life)
            await process.killed_itself()
        kills[life] += 1
        killed_at = datetime.now(UTC)
        await process.start()
        total_orders = await _check_records(process, killed_at)

    # Stop trading and let everything settle; then positions are the exchange's fills, summed.
    for bot in await process.get("/bots"):
        await process.post(f"/bots/{bot['id']}/stop")

    async def all_final() -> bool:
        return all(o["status"] in FINAL for o in await process.orders())

    await _wait(all_final)  # no order left unknown (or anything else not final)
    orders = {o["client_order_id"]: o for o in await process.orders()}
    # Nothing trades now: our records and the exchange must agree order for order.
    sent_orders = await process.exchange_orders()
    orphans = [s["client_order_id"] for s in sent_orders if s["client_order_id"] not in orders]
    duplicates = [c for c, n in Counter(s["client_order_id"] for s in sent_orders).items() if n > 1]
    by_exchange_id: dict[str, dict[str, Any]] = {}
    for sent in sent_orders:
        order = orders.get(sent["client_order_id"])
        assert order is not None, f"exchange order {sent['client_order_id']} is not recorded"
        assert order["exchange_order_id"] == sent["order_id"], (order, sent)
        assert Decimal(order["filled_size"]) == Decimal(sent["filled_size"]), (order, sent)
        assert (order["status"] == "filled") == (sent["status"] == "FILLED"), (order, sent)
        by_exchange_id[sent["order_id"]] = order
    # Positions are the exchange's fills, summed.
    held: dict[int, Decimal] = {}
    fills = await process.exchange_fills()
    for fill in fills:
        order = by_exchange_id[fill["order_id"]]
        size = Decimal(fill["size"])
        if fill.get("size_in_quote"):
            size /= Decimal(fill["price"])  # as the platform reads a fill: base currency
        held[order["bot_id"]] = held.get(order["bot_id"], Decimal(0)) + (
            size if fill["side"] == "BUY" else -size
        )
    positions = {p["bot_id"]: Decimal(p["base_size"]) for p in await process.get("/positions")}
    worst = max((abs(base - held.get(bot_id, Decimal(0))) for bot_id, base in positions.items()), default=0)
    never_sent = sum(1 for o in orders.values() if o["error_code"] == "NEVER_SUBMITTED")
    report(
        f"crash_sigkill_{backend}",
        kills=sum(kills.values()),
        random_kills=kills["random"],
        after_intent_commit=kills["after_intent_commit"],
        after_send=kills["after_send"],
        orders=len(orders),
        fills=len(fills),
        never_sent=never_sent,
        duplicate_orders=len(duplicates),
        orphan_orders=len(orphans),
        unresolved=sum(1 for o in orders.values() if o["status"] not in FINAL),
        position_diff_max=float(worst),
    )
    assert not duplicates
    assert not orphans
    # Quotients carry 28 significant digits, so sums in another order may differ far below a satoshi.
    for bot_id, base in positions.items():
        assert abs(base - held.get(bot_id, Decimal(0))) < Decimal("1e-18"), (bot_id, base, held)
    assert set(held) <= set(positions)
    assert total_orders >= trials
    assert kills["after_send"] >= 1
    assert kills["after_intent_commit"] >= 1
