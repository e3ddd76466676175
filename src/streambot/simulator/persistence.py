"""The paper account on disk: balances, holds, orders and fills survive a restart.

A restarted paper platform finds its account the way a live one finds Coinbase's, so start-up
reconciliation runs in paper mode exactly as in live. SQLite (stdlib) in WAL mode, driven from one
dedicated thread: the event loop only serialises the changed rows (cheap, and it fixes their
content at that instant) and awaits the commit when it must. An order is committed before the
create-order answer leaves, so a SIGKILL right after an acknowledged order cannot lose it; WAL
with ``synchronous=NORMAL`` keeps every commit through a process crash (only an OS crash or power
loss could drop the last ones, acceptable for paper money).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import msgspec

from streambot.venues.matcher.accounts import Account
from streambot.venues.matcher.changes import Changes
from streambot.venues.matcher.engine import MatchingEngine
from streambot.venues.matcher.fills import SimFill
from streambot.venues.matcher.orders import OPEN, SimOrder

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    currency TEXT PRIMARY KEY, uuid TEXT NOT NULL, available TEXT NOT NULL, hold TEXT NOT NULL,
    created_at REAL NOT NULL, updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL, client_order_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL, data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS fills (
    sequence INTEGER PRIMARY KEY, order_id TEXT NOT NULL, data BLOB NOT NULL
);
"""

_Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _RowsToWrite:
    accounts: list[_Row]
    orders: list[_Row]
    fills: list[_Row]
    meta: list[_Row]


@dataclass(frozen=True, slots=True)
class SavedAccount:
    accounts: list[Account]
    orders: list[SimOrder]
    fills: list[SimFill]
    order_sequence: int
    fill_sequence: int


# Orders and fills are stored whole as JSON (decimals as strings); rows written before a field
# existed read back with that field's default.
_encode = msgspec.json.Encoder().encode
_decode_order = msgspec.json.Decoder(SimOrder).decode
_decode_fill = msgspec.json.Decoder(SimFill).decode


def order_to_row(order: SimOrder) -> _Row:
    return (order.order_id, order.sequence, order.client_order_id, order.status, _encode(order))


def fill_to_row(fill: SimFill) -> _Row:
    return (fill.sequence, fill.order_id, _encode(fill))


def _batch(changes: Changes) -> _RowsToWrite:
    return _RowsToWrite(
        accounts=[
            (a.currency, a.uuid, format(a.available, "f"), format(a.hold, "f"), a.created_at, a.updated_at)
            for a in changes.accounts
        ],
        orders=[order_to_row(o) for o in changes.orders],
        fills=[fill_to_row(f) for f in changes.fills],
        meta=[
            ("order_sequence", str(changes.order_sequence)),
            ("fill_sequence", str(changes.fill_sequence)),
        ],
    )


class PaperAccountStore:
    """One SQLite file; every call runs on the store's own thread, in submission order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paper-account")
        self._db: sqlite3.Connection | None = None
        self._pending: set[asyncio.Future[None]] = set()

    async def open(self) -> SavedAccount | None:
        """Open (creating it if needed) and read the saved account; None for a new one."""
        saved: SavedAccount | None = await self._run(self._open_sync)
        return saved

    def save(self, changes: Changes) -> asyncio.Future[None]:
        """Queue ``changes`` for commit; await the result to know it is on disk. Rows are
        serialised now, so later changes of the same objects do not leak into this commit."""
        future = asyncio.wrap_future(self._executor.submit(self._save_sync, _batch(changes)))
        self._pending.add(future)
        future.add_done_callback(self._saved)
        return future

    def _saved(self, future: asyncio.Future[None]) -> None:
        self._pending.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error("Could not save the paper account to %s: %s", self.path, future.exception())

    async def close(self) -> None:
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self._run(self._close_sync)
        self._executor.shutdown(wait=True)

    def _run(self, function: Any, *args: Any) -> Awaitable[Any]:
        return asyncio.wrap_future(self._executor.submit(function, *args))

    # --- on the store's thread -----------------------------------------------------------------

    def _open_sync(self) -> SavedAccount | None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db = db
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        version = int(meta.get("schema_version", SCHEMA_VERSION))
        if version != SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} holds a paper account of schema {version}; this version reads {SCHEMA_VERSION}"
            )
        if "order_sequence" not in meta:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            return None
        accounts = [
            Account(uuid, currency, Decimal(available), Decimal(hold), created, updated)
            for currency, uuid, available, hold, created, updated in db.execute(
                "SELECT currency, uuid, available, hold, created_at, updated_at FROM accounts"
            )
        ]
        orders = [_decode_order(data) for (data,) in db.execute("SELECT data FROM orders ORDER BY sequence")]
        fills = [_decode_fill(data) for (data,) in db.execute("SELECT data FROM fills ORDER BY sequence")]
        return SavedAccount(
            accounts, orders, fills, int(meta["order_sequence"]), int(meta.get("fill_sequence", 0))
        )

    def _save_sync(self, batch: _RowsToWrite) -> None:
        db = self._db
        if db is None:
            raise RuntimeError("the paper account store is not open")
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR REPLACE INTO accounts VALUES (?, ?, ?, ?, ?, ?)", batch.accounts)
            db.executemany("INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?, ?)", batch.orders)
            db.executemany("INSERT OR REPLACE INTO fills VALUES (?, ?, ?)", batch.fills)
            db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", batch.meta)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _close_sync(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


async def open_account(store: PaperAccountStore, book: MatchingEngine) -> None:
    """Restore ``book`` from the store's file, or start the file from the book as it is now."""
    saved = await store.open()
    if saved is None:
        book.take_changes()
        await store.save(book.all_state())
        log.info("💾 New paper account in %s", store.path)
        return
    book.restore(
        saved.accounts,
        saved.orders,
        saved.fills,
        order_sequence=saved.order_sequence,
        fill_sequence=saved.fill_sequence,
    )
    open_orders = sum(1 for o in saved.orders if o.status == OPEN)
    log.info(
        "💾 Paper account restored from %s: %d orders (%d open), %d fills",
        store.path,
        len(saved.orders),
        open_orders,
        len(saved.fills),
    )
