"""Closing the store while its queries are under way: every connection goes back and is closed.

A connection a task still held when the pool was disposed (a query outliving the platform's stop,
or a cancelled one still rolling back) used to come back to the disposed pool, never be closed,
and be collected later, warning in whichever test ran then.
"""

from __future__ import annotations

import asyncio
import gc
import warnings
from decimal import Decimal
from pathlib import Path

from streambot.clock import SystemClock
from streambot.store.database import Store

STILL_OPEN = "was deleted before being closed"


def _collected_unclosed() -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    return [str(w.message) for w in caught if STILL_OPEN in str(w.message)]


async def test_a_query_still_running_when_the_store_closes_finishes_and_its_connection_is_closed(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'streambot.db'}", clock=SystemClock())
    for _ in range(5):
        await store.open()
        # What a shielded health probe whose waiter gave up leaves behind at the platform's stop.
        orphans = [asyncio.ensure_future(store.count_bots()) for _ in range(3)]
        await asyncio.sleep(0)
        await store.close()
        assert [await orphan for orphan in orphans] == [0, 0, 0]
    assert _collected_unclosed() == []


async def test_queries_cancelled_mid_way_end_their_transactions_before_the_store_closes(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'streambot.db'}"
    store = Store(url, clock=SystemClock())
    for round_ in range(5):
        await store.open()
        done = asyncio.Event()

        async def busy(done: asyncio.Event = done) -> None:
            while True:
                await store.count_bots()
                done.set()

        tasks = [asyncio.create_task(busy()) for _ in range(8)]
        await done.wait()
        for task in tasks:
            task.cancel()
        await store.close()  # the tasks' cancellations are still unwinding
        await asyncio.gather(*tasks, return_exceptions=True)
        # No transaction was left open on a connection: another store writes at once.
        other = Store(url, clock=SystemClock())
        await other.open()
        try:
            await other.create_bot(f"after {round_}", "threshold", "BTC-USD", {}, Decimal(100))
            assert await other.count_bots() == round_ + 1
        finally:
            await other.close()
    assert _collected_unclosed() == []
