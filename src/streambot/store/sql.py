"""What every repository shares: one short transaction per method, and ``INSERT ... ON CONFLICT``.

Every method of a repository is one short transaction, and every write is a single statement
(``UPDATE ... RETURNING``, ``INSERT ... ON CONFLICT``): atomic on both backends without locks held
across awaits, and on SQLite a transaction that begins with its write waits for the writer lock
instead of failing with ``SQLITE_BUSY`` as a read-then-write transaction can.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import fields
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement, Dialect, Function, SQLColumnExpression, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from streambot.clock import Clock
from streambot.domain import FencingTokens
from streambot.store.models import MONEY_AT_MOST
from streambot.store.writer import SqliteWriter


class StoreError(Exception):
    """A write the store refused; the stored rows are unchanged."""


class SqlRepository:
    """The base of each repository; ``Store`` (``database.py``) opens the engine they share."""

    _sessions: async_sessionmaker[AsyncSession] | None = None
    _dialect: str = ""
    # SQLite only: the writer connection, the dialect that binds its values, the prepared
    # intent INSERTs and the bots' order numbers (see ``OrderRepository._write_intent``).
    _writer: SqliteWriter | None = None
    _bind_dialect: Dialect | None = None
    _intent_inserts: dict[tuple[str, ...], tuple[str, list[Any]]]
    _order_seqs: dict[int, int]
    _clock: Clock
    # A cluster worker's leases: an order intent of a bot it does not own is refused (FencedOut).
    _fencing: FencingTokens | None = None
    # Transactions under way, and (while the store closes) the event set when the last one has
    # given its connection back: ``Store.close`` waits for it before disposing of the pool.
    _open_transactions: int = 0
    _all_returned: asyncio.Event | None = None

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[AsyncSession]:
        """One short transaction, committed on success, rolled back on any error.

        Its end (commit or rollback, then the connection back to the pool) runs to completion
        even when the caller is cancelled meanwhile (a supervisor stopping the platform): an end
        cut off half way leaves a connection in a transaction, or one the pool never gets back.
        The caller's cancellation is raised once the end is done.
        """
        if self._sessions is None:
            raise RuntimeError("the store is not open: await Store.open() first")
        self._open_transactions += 1
        try:
            session = self._sessions()
            try:
                await session.begin()
                try:
                    yield session
                except BaseException:
                    await _to_completion(session.rollback())
                    raise
                await _to_completion(session.commit())
            except StatementError as exc:
                # A value our column types refused (a float for money, a naive datetime) is the
                # caller's mistake: give them that TypeError/ValueError, not a wrapped SQL error.
                if not isinstance(exc, DBAPIError) and isinstance(exc.orig, TypeError | ValueError):
                    raise exc.orig from None
                raise
            finally:
                await _to_completion(session.close())
        finally:
            # Counted down only once the session has closed: its connection is back in the pool.
            self._open_transactions -= 1
            if not self._open_transactions and self._all_returned is not None:
                self._all_returned.set()

    def _dialect_insert(self, table: type[Any]) -> postgresql.Insert | sqlite.Insert:
        """``INSERT`` with ``ON CONFLICT``, which both backends spell the same way."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        if self._dialect == "sqlite":
            return sqlite.insert(table)
        raise NotImplementedError(f"the store supports SQLite and PostgreSQL, not {self._dialect}")

    def _at_most(
        self, left: SQLColumnExpression[Decimal], right: SQLColumnExpression[Decimal]
    ) -> ColumnElement[bool]:
        """``left <= right`` for two ``Money`` values: NUMERIC compares on PostgreSQL; on SQLite
        the amounts are text, compared as decimals by the connection's ``money_at_most``."""
        if self._dialect == "sqlite":
            compared: Function[int] = getattr(func, MONEY_AT_MOST)(left, right)
            return compared == 1
        return left <= right


async def _to_completion(step: Coroutine[Any, Any, None]) -> None:
    """Run ``step`` to its end in a task of its own, even if the caller is cancelled meanwhile;
    the cancellation is raised when it is done (as SQLAlchemy closes an ``AsyncSession``)."""
    task = asyncio.ensure_future(step)
    cancelled: asyncio.CancelledError | None = None
    while True:
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError as exc:
            if task.done():
                raise
            cancelled = exc
        else:
            break
    if cancelled is not None:
        raise cancelled


def check_changes(changes: Mapping[str, Any], allowed: Iterable[str], what: str) -> None:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"cannot change {what} field(s) {', '.join(sorted(unknown))}")


def check_limit(limit: int) -> None:
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")


def columns(record: Any, **extra: Any) -> dict[str, Any]:
    """A domain dataclass as column values: each field under its own name, enums as their text.

    Not listed by hand, so a field added to the dataclass is stored, or the insert fails on a
    column the table lacks; never silently left out. ``id`` is the database's to assign.
    """
    values = {f.name: getattr(record, f.name) for f in fields(record) if f.name != "id"}
    values.update(extra)
    return {name: value.value if isinstance(value, Enum) else value for name, value in values.items()}
