"""The store: one repository per aggregate over one engine; connect, migrate, close.

SQLite (aiosqlite) by default, PostgreSQL (asyncpg) by URL; the same Alembic migrations serve both.

``Store`` is the one object the platform holds: it opens the engine and is every repository at
once (each repository is a class of its own file, over the engine they share), so a caller asks
``store.create_bot`` or ``store.upsert_trade`` without knowing which repository answers, and each
part's narrow store protocol (trading's, the bot manager's, the risk engine's) is met by it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from streambot.clock import Clock
from streambot.domain import FencingTokens
from streambot.store.bot_leases import BotLeaseRepository
from streambot.store.bots import BotRepository
from streambot.store.equity_snapshots import EquitySnapshotRepository
from streambot.store.fills import FillRepository
from streambot.store.leases import LeaseRepository
from streambot.store.models import MONEY_AT_MOST, money_at_most
from streambot.store.orders import OrderRepository
from streambot.store.risk_state import RiskStateRepository
from streambot.store.sql import StoreError
from streambot.store.trades import TradeRepository
from streambot.store.writer import SqliteWriter, writer_path

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# How long a SQLite writer waits for another connection's write to finish before giving up.
_SQLITE_BUSY_TIMEOUT_S = 30.0
# How long closing waits for the transactions under way (each short; a SQLite one may wait its
# busy timeout for the lock).
_CLOSE_WAIT_S = _SQLITE_BUSY_TIMEOUT_S + 5.0


def alembic_config(url: str | None = None) -> Config:
    """Alembic configured in code (there is no alembic.ini), e.g. for ``command.revision``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolation would read a "%" in a password as a placeholder.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class UnknownSchema(StoreError):
    """The database was migrated by something this streambot has no migrations for."""


class Store(
    BotRepository,
    OrderRepository,
    FillRepository,
    TradeRepository,
    RiskStateRepository,
    EquitySnapshotRepository,
    LeaseRepository,
    BotLeaseRepository,
):
    """The platform's database. ``await open()`` before use, ``await close()`` when done.

    ``clock`` stamps the rows' own times (created_at, updated_at of bots and risk state).
    """

    def __init__(self, url: str, *, clock: Clock, fencing: FencingTokens | None = None) -> None:
        self._url: URL = make_url(url)
        self._clock = clock
        self._fencing = fencing
        self._engine: AsyncEngine | None = None

    @property
    def url(self) -> str:
        """The database URL with any password masked, for logs."""
        return self._url.render_as_string(hide_password=True)

    async def open(self) -> None:
        """Connect and migrate the schema to the newest version."""
        if self._engine is not None:
            return
        backend = self._url.get_backend_name()
        if backend == "sqlite":
            _create_parent_dir(self._url)
            path = writer_path(self._url)
            if path is not None:
                engine = create_async_engine(self._url, async_creator=_sqlite_opener(path))
            else:  # in memory, a URI or options: as SQLAlchemy opens it
                engine = create_async_engine(self._url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S})
            _configure_sqlite(engine)
        else:
            # A server restart or idle timeout drops pooled connections; check before handing out.
            engine = create_async_engine(self._url, pool_pre_ping=True)
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_upgrade_to_head)
        except CommandError as exc:
            await engine.dispose()
            # Alembic found a version it has no migration for: a newer streambot's database, or
            # another application's. Nothing is changed in it.
            raise UnknownSchema(
                f"the database {self.url} holds a schema streambot does not know ({exc}): it belongs "
                "to another application or to a newer streambot; point STREAMBOT_DATABASE_URL at "
                "a database of streambot's own (an empty one is set up on first start)"
            ) from None
        except BaseException:
            await engine.dispose()
            raise
        path = writer_path(self._url)
        if path is not None:
            writer = SqliteWriter(path, busy_timeout_s=_SQLITE_BUSY_TIMEOUT_S)
            try:
                await writer.open()
            except BaseException:
                await engine.dispose()
                raise
            self._writer = writer
            self._bind_dialect = engine.dialect
            self._intent_inserts = {}
            self._order_seqs = {}
        self._engine = engine
        self._dialect = engine.dialect.name
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        log.info("Store open at %s", self.url)

    async def close(self) -> None:
        """Close once every transaction under way has given its connection back.

        Disposing of the pool closes only the connections in it: one still checked out (a query of
        a task that outlives the platform's stop, e.g. a shielded health probe, or one whose
        cancellation is still rolling back) would come back to the disposed pool, never be closed,
        and be collected later (aiosqlite warns "deleted before being closed").
        """
        if self._open_transactions:
            self._all_returned = asyncio.Event()
            try:
                await asyncio.wait_for(self._all_returned.wait(), _CLOSE_WAIT_S)
            except TimeoutError:
                log.warning(
                    "Store closed with %d transaction(s) still under way: their connections are left open",
                    self._open_transactions,
                )
            finally:
                self._all_returned = None
        engine, self._engine, self._sessions = self._engine, None, None
        writer, self._writer = self._writer, None
        if writer is not None:
            await writer.close()
        if engine is not None:
            await engine.dispose()


def _create_parent_dir(url: URL) -> None:
    database = url.database or ""
    if database in {"", ":memory:"} or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _sqlite_opener(path: str) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """How the pool opens a connection to the database file: like SQLAlchemy, except that a caller
    cancelled while the connection opens (on aiosqlite's thread) does not strand it. The opening
    goes on to its end and what it opened is closed: nothing else would ever close it."""

    async def open_connection() -> aiosqlite.Connection:
        connection = aiosqlite.connect(path, timeout=_SQLITE_BUSY_TIMEOUT_S, check_same_thread=False)
        connection._thread.daemon = True  # as SQLAlchemy sets it: never keeps the process alive
        opening = asyncio.ensure_future(_opened(connection))
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_if_opened)
            raise

    return open_connection


async def _opened(connection: aiosqlite.Connection) -> aiosqlite.Connection:
    return await connection


def _close_if_opened(opening: asyncio.Future[aiosqlite.Connection]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().stop()  # closes it on its own thread, then ends the thread


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin: the module
        # would skip BEGIN before DDL and so make migrations non-transactional.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # WAL lets readers (the API) run while the writer commits; synchronous=FULL makes a
            # commit durable before the executor moves on; foreign keys are off unless asked for.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()
        # Settlement's guards compare money in SQL (``SqlRepository._at_most``).
        dbapi_connection.create_function(MONEY_AT_MOST, 2, money_at_most, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


# Any fixed 64-bit number, shared by every streambot process migrating the same database.
_MIGRATION_LOCK_KEY = 0x5354_5245_414D_424F  # "STREAMBO"


def _upgrade_to_head(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Two processes starting together on one database would otherwise both run a migration;
        # the lock is released when the migration's transaction ends.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
    elif connection.dialect.name == "sqlite":
        # Write first, read after: a transaction that reads (Alembic's version check) and then
        # writes fails at once with "database is locked" when another process migrated in
        # between; one that starts with a write waits for the writer lock instead.
        connection.exec_driver_sql("PRAGMA user_version = 1")
    config = alembic_config()
    # env.py migrates on this connection, inside the caller's transaction.
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
