"""SQLite's writer connection: one plain ``sqlite3`` connection on one thread of its own.

The order intent is the one durable write between a decision and the exchange. Through the
SQLAlchemy session it costs a dozen hops between the event loop and aiosqlite's thread (begin,
each statement, each fetch, commit) and a statement compiled per call; here the whole
transaction is one function run on the writer's thread: one hop there and one back, statements
prepared once (``sqlite3`` keeps them in its statement cache). The pragmas are the store's own:
WAL, ``synchronous=FULL`` (a commit is on disk before the caller goes on), foreign keys on, and
the same busy timeout, so the writer and the store's pooled connections take turns at the lock.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.engine import URL

_T = TypeVar("_T")


def writer_path(url: URL) -> str | None:
    """The database file a writer connection can open, or None (in memory, a URI, options)."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or url.query:
        return None
    if database in {"", ":memory:"} or database.startswith("file:"):
        return None
    return database


class SqliteWriter:
    """``await run(fn, *args)`` calls ``fn(connection, *args)`` on the writer's thread."""

    def __init__(self, path: str, *, busy_timeout_s: float) -> None:
        self._path = path
        self._busy_timeout_s = busy_timeout_s
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="streambot-store-writer")
        loop = asyncio.get_running_loop()
        try:
            self._connection = await loop.run_in_executor(self._executor, self._connect)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: the writer says BEGIN IMMEDIATE and COMMIT itself.
        connection = sqlite3.connect(
            self._path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("PRAGMA foreign_keys=ON")
        return connection

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        executor, connection = self._executor, self._connection
        if executor is None or connection is None:
            raise RuntimeError("the store is not open: await Store.open() first")
        return await asyncio.get_running_loop().run_in_executor(executor, fn, connection, *args)

    async def close(self) -> None:
        executor, connection = self._executor, self._connection
        self._executor = self._connection = None
        if executor is None:
            return
        if connection is not None:
            await asyncio.get_running_loop().run_in_executor(executor, connection.close)
        executor.shutdown(wait=True)
