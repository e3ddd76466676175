"""Bot ownership on the real PostgreSQL: workers share the running bots evenly and never both own
one; a worker that stops renewing loses its bots to the others within seconds, and its intents
are refused by the fencing token even though it still believes it owns them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from streambot.clock import SystemClock
from streambot.cluster.ownership import BotOwnership, WorkerReading
from streambot.domain import (
    BotId,
    BotState,
    ClientOrderId,
    FencingTokens,
    OrderRecord,
    OrderStatus,
    ProductId,
    Side,
)
from streambot.store.bot_leases import FencedOut
from streambot.store.database import Store

pytestmark = pytest.mark.integration

BOTS = 20
RENEW_S = 0.3
STALE_S = 2.0


@dataclass
class Worker:
    name: str
    store: Store
    ownership: BotOwnership
    running: set[BotId] = field(default_factory=set)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.ownership.run())

    async def kill(self) -> None:
        """As a SIGKILL leaves it: the loop gone, the leases not released, the tokens kept."""
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def _worker(url: str, name: str, clock: SystemClock) -> Worker:
    fencing = FencingTokens(name)
    store = Store(url, clock=clock, fencing=fencing)
    await store.open()
    running: set[BotId] = set()

    async def running_bots() -> list[BotId]:
        return [b.id for b in await store.list_bots() if b.state is BotState.RUNNING]

    async def adopt(bot_id: BotId) -> bool:
        running.add(bot_id)
        return True

    async def drop(bot_id: BotId) -> None:
        running.discard(bot_id)

    ownership = BotOwnership(
        store=store,
        clock=clock,
        fencing=fencing,
        host="test",
        pid=0,
        running_bots=running_bots,
        adopt=adopt,
        drop=drop,
        reading=lambda: WorkerReading(0.0, 0.0),
        renew_every=RENEW_S,
        stale_after=STALE_S,
    )
    return Worker(name, store, ownership, running)


@pytest.fixture
async def bots_and_workers(database_url: str) -> AsyncIterator[tuple[Store, list[Worker]]]:
    clock = SystemClock()
    admin = Store(database_url, clock=clock)
    await admin.open()
    for n in range(BOTS):
        product = "BTC-USD" if n % 2 else "ETH-USD"
        await admin.create_bot(f"bot {n}", "threshold", product, {}, Decimal(100), state=BotState.RUNNING)
    workers = [await _worker(database_url, f"worker-{n}", clock) for n in range(3)]
    try:
        yield admin, workers
    finally:
        for worker in workers:
            if worker.task is not None:
                await worker.kill()
            await worker.store.close()
        await admin.close()


async def _until(condition: Callable[[], bool], within: float) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not condition():
        assert loop.time() - started < within, "condition not met in time"
        await asyncio.sleep(0.02)
    return loop.time() - started


def _intent(bot_id: BotId) -> Callable[[int], OrderRecord]:
    def make(seq: int) -> OrderRecord:
        return OrderRecord(
            client_order_id=ClientOrderId(f"sb-test-{bot_id}-{seq}"),
            bot_id=bot_id,
            product_id=ProductId("BTC-USD"),
            side=Side.BUY,
            status=OrderStatus.INTENT,
            reason="test",
            created_at=SystemClock().now(),
        )

    return make


async def test_workers_share_bots_evenly_and_a_dead_workers_bots_move_fenced(
    bots_and_workers: tuple[Store, list[Worker]],
) -> None:
    admin, (a, b, c) = bots_and_workers
    everything = {bot.id for bot in await admin.list_bots()}
    a.start()
    b.start()

    def shared_evenly(*workers: Worker) -> bool:
        owned = [w.ownership.fencing.owned() for w in workers]
        union = set().union(*owned)
        disjoint = sum(len(o) for o in owned) == len(union)
        return union == everything and disjoint and max(map(len, owned)) - min(map(len, owned)) <= 1

    await _until(lambda: shared_evenly(a, b), within=10)
    assert len(a.running) == len(b.running) == BOTS // 2
    assert not a.running & b.running  # none runs on both

    # An owner stores its intents; the store checks the token in the same transaction.
    mine = a.ownership.fencing.owned()[0]
    await a.store.insert_order_with_seq(mine, _intent(mine))

    # Worker a dies without a word: its bots move to b within the stale period and a round.
    await a.kill()
    moved_in = await _until(lambda: b.ownership.fencing.owned() == sorted(everything), within=10)
    assert moved_in < 10
    assert b.running == everything
    # a still holds its old tokens (it never learnt), but the store refuses its intents.
    assert a.ownership.fencing.get(mine) is not None
    with pytest.raises(FencedOut, match=f"bot {mine} is not owned by worker worker-0"):
        await a.store.insert_order_with_seq(mine, _intent(mine))
    await b.store.insert_order_with_seq(mine, _intent(mine))

    # A worker that joins gets its share; a bot stopped anywhere is given up by its owner.
    c.start()
    await _until(lambda: shared_evenly(b, c), within=10)
    stopped = c.ownership.fencing.owned()[0]
    await admin.update_bot(stopped, state=BotState.STOPPED)
    await _until(lambda: stopped not in c.running and c.ownership.fencing.get(stopped) is None, within=5)
    for _ in range(50):  # the release is written right after
        leases = {lease.bot_id: lease for lease in await admin.bot_leases()}
        if leases[stopped].worker_id == "":
            break
        await asyncio.sleep(0.05)
    assert leases[stopped].worker_id == ""
    workers = {w.worker_id: w for w in await admin.cluster_workers()}
    assert set(workers) == {"worker-0", "worker-1", "worker-2"}


async def test_a_round_slower_than_the_stale_period_keeps_its_leases(
    bots_and_workers: tuple[Store, list[Worker]],
) -> None:
    """A worker that starts its bots slowly (a loaded machine: each adoption reads the store)
    takes longer over one round than a lease stays fresh; its leases are renewed on the way, so
    no other worker takes a bot over while it still trades here."""
    admin, (a, b, _) = bots_and_workers
    adopt, give_up = a.ownership._adopt, a.ownership._give_up
    taken_over: list[BotId] = []

    async def slow_adopt(bot_id: BotId) -> bool:
        await asyncio.sleep(STALE_S / 4)  # all twenty take five times the stale period
        return await adopt(bot_id)

    async def giving_up(bot_id: BotId, *, release: bool) -> None:
        if not release:  # not handed on: found taken over by another worker
            taken_over.append(bot_id)
        await give_up(bot_id, release=release)

    a.ownership._adopt = slow_adopt
    a.ownership._give_up = giving_up  # type: ignore[method-assign]
    a.start()
    # b joins when a has taken every bot and is still starting the last of them.
    await _until(lambda: len(a.ownership.fencing.owned()) == BOTS, within=30)
    b.start()
    everything = {bot.id for bot in await admin.list_bots()}

    def shared() -> bool:
        mine, theirs = set(a.ownership.fencing.owned()), set(b.ownership.fencing.owned())
        return mine | theirs == everything and not mine & theirs and len(mine) == len(theirs)

    await _until(shared, within=30)
    assert taken_over == []
