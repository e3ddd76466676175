"""``--save``: a run's bots, orders, fills and trades written into a streambot database.

A backtest keeps its records in memory (``memory_store``); saved, they land in the same tables as
a live session's, so the same queries and tools read them. Into a database of its own, never the
platform's running one: the saved bots are stopped records, and the client_order_ids are the run's
(saving the same run twice into one database is refused by their uniqueness).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from streambot.backtest.memory_store import MemoryStore
from streambot.clock import Clock
from streambot.domain import BotId, BotState, OrderRecord
from streambot.store.database import Store


class SaveError(Exception):
    """The run could not be saved; the message says why."""


def _as_is(order: OrderRecord) -> Callable[[int], OrderRecord]:
    """The stored order unchanged: its client_order_id already carries the run's sequence."""
    return lambda seq: order


async def save_run(records: MemoryStore, url: str, clock: Clock) -> int:
    """Write every bot, order, fill and trade of ``records`` into the database at ``url``;
    returns how many orders were saved."""
    store = Store(url, clock=clock)
    try:
        await store.open()
    except Exception as exc:
        raise SaveError(f"cannot open {url}: {exc}") from exc
    try:
        # Checked before anything is written: a refused save leaves the database as it was.
        # Read back once, archived records included, in the order the run stored them.
        orders = records.all_orders()
        existing = await store.get_orders([order.client_order_id for order in orders])
        if existing:
            raise SaveError(f"{url} already holds this run's orders (e.g. {next(iter(existing))})")
        ids: dict[BotId, BotId] = {}
        for bot in await records.list_bots():
            saved = await store.create_bot(
                bot.name, bot.strategy, bot.product_id, dict(bot.params), bot.budget, state=BotState.STOPPED
            )
            ids[bot.id] = saved.id
        for order in orders:
            moved = replace(order, bot_id=ids[order.bot_id])
            await store.insert_order_with_seq(moved.bot_id, _as_is(moved))
        for stored in records.all_fills():
            await store.insert_fill(
                stored.fill, bot_id=ids[BotId(stored.bot_id)], client_order_id=stored.client_order_id
            )
        for trade in records.all_trades():
            await store.upsert_trade(replace(trade, bot_id=ids[trade.bot_id], id=None))
        return len(orders)
    finally:
        await store.close()
