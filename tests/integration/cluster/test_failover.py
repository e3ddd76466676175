"""A worker SIGKILLed in the middle of a bot's sell (``STREAMBOT_FAULT_POINT``, trading/fault_point.py):
the bot moves to another worker, which starts it only once that sell is settled against the
exchange and its fills booked; the sell is never sent again, the bot never sells what it no longer
holds, and its position is the exchange's fills, summed.

The bot holds when the kill comes: a first worker buys (the bot's strategy sells only far above),
stops cleanly; the bot is edited to sell on the smallest move, and the worker that takes it over
kills itself at its first order, the sell. In the hardest case the sell was written to the socket
and the exchange has not read it yet when the next owner looks it up (a worker that was slow, not
dead, or a request queued on a loaded machine): the next owner waits for it instead of selling the
same position again.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from streambot.domain import Position, Side
from tests.chaos import POSITION_TOLERANCE, exchange_pages
from tests.integration.cluster.test_topology import TOKEN, Topology, _wait
from tests.integration.crash.process import API, FINAL

pytestmark = pytest.mark.integration


CREATE_ORDER = f"POST {API}/orders HTTP".encode()


class SendHolder:
    """A relay in front of the simulator that holds every create-order request until released:
    the order was sent, the exchange has not read it yet. The upstream connection outlives the
    client's, so a held request still reaches the exchange whole after its sender died."""

    def __init__(self, target_port: int) -> None:
        self._target = ("127.0.0.1", target_port)
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.held = asyncio.Event()
        self.released = asyncio.Event()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.released.set()
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers += [writer, up_writer]
        for pipe in (self._up(reader, up_writer), self._down(up_reader, writer)):
            task = asyncio.create_task(pipe)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _up(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                if CREATE_ORDER in data:
                    self.held.set()
                    await self.released.wait()
                sink.write(data)
                await sink.drain()

    async def _down(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.transport.abort()


class FaultyTopology(Topology):
    """The simulator, the API, the feed; workers started one at a time, one with the fault hook."""

    def __init__(self, tmp: Path, database_url: str, redis_url: str, cluster: str) -> None:
        super().__init__(tmp, database_url, redis_url, cluster)
        self.extra_env: dict[str, str] = {}

    def env(self, redis_url: str) -> dict[str, str]:
        return (
            super().env(redis_url)
            # The account's duties (reconciliation) move within seconds too, as the bots do.
            | {"STREAMBOT_LEASE_RENEW_S": "1", "STREAMBOT_LEASE_STALE_S": "3"}
            | self.extra_env
        )

    async def start(self) -> None:
        await self.relay.start()
        await self.spawn(
            "simulator", "simulate", "--port", str(self.sim_port), "--seed", "11", "--no-rate-limits"
        )
        await _wait(lambda: self._answers(f"http://127.0.0.1:{self.sim_port}{API}/products"), 30, self)
        await self.spawn("api", "api")
        await _wait(lambda: self._answers(f"{self.api}/health"), 60, self)
        await self.spawn("feed", "feed")

    async def spawn_worker(self, name: str, **env: str) -> None:
        self.extra_env = env
        try:
            await self.spawn(name, "worker")
        finally:
            self.extra_env = {}

    async def patch(self, path: str, body: object) -> Any:
        async with self.http.patch(
            f"{self.api}{path}", json=body, headers={"Authorization": f"Bearer {TOKEN}"}
        ) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def stored_fills(self, bot_id: int) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT trade_id, side, size, trade_time FROM fills WHERE bot_id = :bot"),
                {"bot": bot_id},
            )
            return [dict(row._mapping) for row in rows]

    async def bot_orders(self, bot_id: int) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT client_order_id, side, status, error_code, created_at, completed_at,"
                    " exchange_order_id FROM orders WHERE bot_id = :bot ORDER BY created_at"
                ),
                {"bot": bot_id},
            )
            return [dict(row._mapping) for row in rows]


@pytest.fixture
async def faulty(
    tmp_path: Path, database_url: str, redis_url: str, cluster_name: str
) -> AsyncIterator[FaultyTopology]:
    running = FaultyTopology(tmp_path, database_url, redis_url, cluster_name)
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


@pytest.mark.parametrize("cut", ["after_intent_commit", "after_send", "held_send"])
async def test_a_sell_cut_short_by_a_sigkill_is_settled_before_the_next_owner_trades_the_bot(
    faulty: FaultyTopology, cut: str
) -> None:
    t = faulty
    params = {"buy_below": 1e9, "sell_rise_pct": 400, "order_pct": 5, "allow_below_fee": True}
    bot = await t.post(
        "/bots",
        {"name": "holder", "strategy": "threshold", "product_id": "BTC-USD", "params": params}
        | {"budget": "1000"},
    )
    bot_id = bot["id"]
    await t.post(f"/bots/{bot_id}/start")
    await t.spawn("worker-1", "worker")

    async def holds() -> bool:
        orders = await t.bot_orders(bot_id)
        return bool(orders) and all(o["status"] == "filled" for o in orders)

    await _wait(holds, 60, t)
    t.procs["worker-1"].send_signal(signal.SIGTERM)  # a clean stop: the bot's lease is given back
    assert await asyncio.wait_for(t.procs["worker-1"].wait(), 30) == 0, t.logs()
    assert [o["side"] for o in await t.bot_orders(bot_id)] == ["BUY"]

    # Sells on the smallest move now; the next worker dies with its first order, that sell.
    churn = params | {"sell_rise_pct": 0.0001, "stop_loss_pct": 0.0001}
    await t.patch(f"/bots/{bot_id}", {"params": churn})
    holder = SendHolder(t.sim_port)
    await holder.start()
    try:
        if cut == "held_send":
            # Written to the socket, not yet read by the exchange when the worker dies; the grace
            # is long enough that the next owner looks the sell up well within it.
            sim_url = f"http://127.0.0.1:{holder.port}"
            await t.spawn_worker("worker-2", STREAMBOT_SIM_URL=sim_url)
            await asyncio.wait_for(holder.held.wait(), 60)
            t.procs["worker-2"].send_signal(signal.SIGKILL)
            await t.procs["worker-2"].wait()
            grace = "120"
        else:
            await t.spawn_worker("worker-2", STREAMBOT_FAULT_POINT=cut)
            assert await asyncio.wait_for(t.procs["worker-2"].wait(), 60) == -signal.SIGKILL
            grace = "3"
        cut_short = (await t.bot_orders(bot_id))[-1]
        assert cut_short["side"] == "SELL"
        assert cut_short["status"] == "risk_checked"  # the send's outcome is not stored

        # The next worker takes the bot over (and the account's reconciliation with it).
        await t.spawn_worker("worker-3", STREAMBOT_ORDER_UNKNOWN_GRACE_S=grace)
        if cut == "held_send":

            async def leased() -> bool:
                workers = (await t.get("/cluster"))["workers"]
                pid = t.procs["worker-3"].pid
                return any(w["pid"] == pid and bot_id in w["bots"] for w in workers)

            await _wait(leased, 60, t)
            await asyncio.sleep(3)  # a few reconciliation rounds, in which the sell is not listed
            orders = await t.bot_orders(bot_id)
            assert orders[-1] == cut_short, "the sell was given up on, or the bot traded past it"
            holder.released.set()  # the exchange reads the sell now

        async def traded_on() -> list[dict[str, Any]]:
            orders = await t.bot_orders(bot_id)
            return orders if len(orders) > 2 else []

        orders = await _wait(traded_on, 60, t)
        settled = next(o for o in orders if o["client_order_id"] == cut_short["client_order_id"])
        if cut == "after_intent_commit":
            assert (settled["status"], settled["error_code"]) == ("failed", "NEVER_SUBMITTED")
        else:
            assert settled["status"] == "filled"
        completed_at: datetime = settled["completed_at"]
        later = orders[2:]
        assert all(o["created_at"] >= completed_at for o in later), (settled, later)
    finally:
        holder.released.set()
        await holder.close()

    await t.post(f"/bots/{bot_id}/stop")

    async def all_final() -> list[dict[str, Any]]:
        orders = await t.bot_orders(bot_id)
        return orders if all(o["status"] in FINAL for o in orders) else []

    orders = await _wait(all_final, 60, t)

    sent = await t.exchange_client_ids()
    assert len(sent) == len(set(sent)), "a client_order_id reached the exchange twice"
    assert {o["client_order_id"] for o in orders if o["status"] == "filled"} <= set(sent)
    for order in orders:
        if order["error_code"] == "NEVER_SUBMITTED":
            assert order["client_order_id"] not in sent
    # The bot's orders at the exchange by client_order_id: one we marked never sent counts too.
    mine = {o["client_order_id"] for o in orders}
    ours = {
        o["order_id"]
        for o in await exchange_pages(t.http, f"{t.sim}/orders/historical/batch", "orders")
        if o["client_order_id"] in mine
    }
    held = Decimal(0)
    for fill in sorted(await t.exchange_fills(), key=lambda f: str(f.get("trade_time", ""))):
        if fill["order_id"] not in ours:
            continue
        size = Decimal(fill["size"])
        if fill.get("size_in_quote"):
            size /= Decimal(fill["price"])  # as the platform reads a fill: base currency
        held += size if fill["side"] == "BUY" else -size
        assert held > Decimal("-1e-18"), "the bot sold more than it held at the exchange"
    # The store is what the next owner trades on: its fills for the bot are the exchange's.
    stored = Position()
    for fill in sorted(await t.stored_fills(bot_id), key=lambda f: (f["trade_time"], f["trade_id"])):
        stored.apply_fill(Side(fill["side"]), Decimal(fill["size"]), Decimal(0), Decimal(0))
    assert abs(stored.base - held) < POSITION_TOLERANCE, (stored.base, held, orders)

    # The API reads them again when a worker's TradeBooked reaches it over the streams: a moment
    # after the store, longer on a loaded machine.
    async def api_position() -> Decimal:
        positions = {p["bot_id"]: Decimal(p["base_size"]) for p in await t.get("/positions")}
        return positions.get(bot_id, Decimal(0))

    async def shown() -> bool:
        return abs(await api_position() - held) < POSITION_TOLERANCE

    with contextlib.suppress(AssertionError):  # the assertion below names the difference
        await _wait(shown, 30, t)
    assert abs(await api_position() - held) < POSITION_TOLERANCE, (await api_position(), held)
