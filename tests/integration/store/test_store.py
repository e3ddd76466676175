"""The store against real databases: SQLite always, PostgreSQL on 127.0.0.1:5432 when it answers.

Each PostgreSQL test gets a database of its own, dropped afterwards, so tests neither see each
other's rows nor leave any behind.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from streambot.clock import SystemClock
from streambot.domain import (
    BotId,
    BotState,
    ClientOrderId,
    Fill,
    OrderRecord,
    OrderStatus,
    Side,
    Trade,
)
from streambot.store.database import Store, UnknownSchema
from streambot.store.models import Base
from streambot.store.orders import DuplicateOrder, OrderNotFound

pytestmark = pytest.mark.integration

PG_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432"
PG_ADMIN_DB = f"{PG_SERVER}/test"
T0 = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
EXACT_AMOUNTS = [
    Decimal("0.00000001"),
    Decimal("97123.45678901"),
    Decimal("1.10"),  # the trailing zero is part of the value's scale and must survive
    Decimal("0"),
    Decimal("-42.000000000000000001"),
    Decimal("123456789012345678901234567890.123456789012345678901234567890"),
]


async def _admin(sql: str) -> None:
    """Run a statement on the ``test`` database outside a transaction (CREATE/DROP DATABASE)."""
    engine = create_async_engine(
        PG_ADMIN_DB, isolation_level="AUTOCOMMIT", poolclass=NullPool, connect_args={"timeout": 3}
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(sql))
    finally:
        await engine.dispose()


async def _postgres_url(tmp_name: str) -> str:
    try:
        for attempt in range(10):
            try:
                await _admin(f'CREATE DATABASE "{tmp_name}"')
                break
            except DBAPIError as exc:
                # CREATE DATABASE copies template1 and refuses while another session (another
                # test run on this server) is creating one from it too; that one is done soon.
                if "being accessed by other users" not in str(exc) or attempt == 9:
                    raise
                await asyncio.sleep(0.2 * (attempt + 1))
    except (OSError, TimeoutError, DBAPIError) as exc:
        reason = f"PostgreSQL not reachable on 127.0.0.1:5432: {type(exc).__name__}: {exc}"
        # CI sets this when it has started the server, so a failure to connect is a failure.
        if os.environ.get("STREAMBOT_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return f"{PG_SERVER}/{tmp_name}"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        # A missing parent directory is part of the test: open() must create it.
        yield f"sqlite+aiosqlite:///{(tmp_path / 'data' / 'streambot.db').as_posix()}"
        return
    name = f"streambot_test_{uuid.uuid4().hex}"
    url = await _postgres_url(name)
    try:
        yield url
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = Store(database_url, clock=SystemClock())
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def _scalar(url: str, sql: str) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text(sql))).scalar()
    finally:
        await engine.dispose()


def _order(client_order_id: str = "sb-test-1-1", bot_id: int = 1, **fields: Any) -> OrderRecord:
    values: dict[str, Any] = {
        "client_order_id": ClientOrderId(client_order_id),
        "bot_id": BotId(bot_id),
        "product_id": "BTC-USD",
        "side": Side.BUY,
        "status": OrderStatus.INTENT,
        "reason": "ema crossed up",
        "created_at": T0,
        "quote_size": Decimal("10.00"),
    }
    values.update(fields)
    return OrderRecord(**values)


def _fill(trade_id: str = "t-1", **fields: Any) -> Fill:
    values: dict[str, Any] = {
        "trade_id": trade_id,
        "order_id": "ex-1",
        "product_id": "BTC-USD",
        "side": Side.BUY,
        "price": Decimal("97123.45678901"),
        "size": Decimal("0.00010296"),
        "commission": Decimal("0.05998"),
        "trade_time": T0,
    }
    values.update(fields)
    return Fill(**values)


def _trade(client_order_id: str = "sb-test-1-1", bot_id: int = 1, **fields: Any) -> Trade:
    values: dict[str, Any] = {
        "bot_id": BotId(bot_id),
        "product_id": "BTC-USD",
        "side": Side.BUY,
        "base_size": Decimal("0.00010296"),
        "price": Decimal("97123.45678901"),
        "quote_amount": Decimal("9.99983"),
        "fee": Decimal("0.05998"),
        "net_total": Decimal("10.05981"),
        "status": OrderStatus.FILLED,
        "client_order_id": ClientOrderId(client_order_id),
        "exchange_order_id": "ex-1",
        "reason": "ema crossed up",
        "created_at": T0,
        "filled_at": T0 + timedelta(seconds=1),
    }
    values.update(fields)
    return Trade(**values)


async def _bot_id(store: Store, name: str = "b", product_id: str = "BTC-USD") -> int:
    return (await store.create_bot(name, "threshold", product_id, {}, Decimal(100))).id


# --- schema ----------------------------------------------------------------------------------


async def test_migration_creates_the_schema_and_reopening_is_a_no_op(database_url: str) -> None:
    first = Store(database_url, clock=SystemClock())
    await first.open()
    bot = await first.create_bot("keeper", "threshold", "BTC-USD", {"x": 1}, Decimal(5))
    await first.close()

    again = Store(database_url, clock=SystemClock())
    await again.open()
    try:
        assert await again.get_bot(bot.id) == bot
        assert await again.count_bots() == 1
    finally:
        await again.close()
    assert await _scalar(database_url, "SELECT version_num FROM alembic_version") == "0004"
    assert await _scalar(database_url, "SELECT count(*) FROM alembic_version") == 1


async def test_a_database_of_another_application_is_refused_by_name_and_left_as_it_was(
    database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "data").mkdir()  # the SQLite case's folder, made by Store.open otherwise
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            await connection.execute(text("INSERT INTO alembic_version VALUES ('v3.2.0.a')"))
    finally:
        await engine.dispose()

    with pytest.raises(UnknownSchema) as refused:
        await Store(database_url, clock=SystemClock()).open()
    for part in ("a schema streambot does not know", "'v3.2.0.a'", "STREAMBOT_DATABASE_URL"):
        assert part in str(refused.value)
    assert await _scalar(database_url, "SELECT version_num FROM alembic_version") == "v3.2.0.a"
    assert await _scalar(database_url, "SELECT count(*) FROM alembic_version") == 1


async def test_hand_written_migration_matches_the_models(store: Store, database_url: str) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_sqlite_connections_use_wal_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    store = Store(f"sqlite+aiosqlite:///{(tmp_path / 'pragmas.db').as_posix()}", clock=SystemClock())
    await store.open()
    try:
        async with store._transaction() as session:
            assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await session.execute(text("PRAGMA synchronous"))).scalar() == 2  # FULL
            assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await store.close()


def test_url_for_logs_hides_the_password() -> None:
    store = Store("postgresql+asyncpg://trader:s3cret@db.example:5432/streambot", clock=SystemClock())
    assert "s3cret" not in store.url
    assert store.url.startswith("postgresql+asyncpg://trader:***@db.example:5432/streambot")


async def test_using_a_store_before_open_says_so(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not open"):
        await Store(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", clock=SystemClock()).list_bots()


# --- bots ------------------------------------------------------------------------------------


async def test_bot_crud(store: Store) -> None:
    bot = await store.create_bot(
        "Momo", "ema_crossover", "ETH-USD", {"fast": 9, "slow": 21}, Decimal("250.50")
    )
    assert bot.name == "Momo"
    assert bot.params == {"fast": 9, "slow": 21}
    assert bot.budget == Decimal("250.50")
    assert bot.state is BotState.STOPPED
    assert bot.streaming is True
    assert bot.error_reason == ""
    assert bot.created_at == bot.updated_at
    assert await store.get_bot(bot.id) == bot
    other = await store.create_bot("Dip", "threshold", "BTC-USD", {}, Decimal(1), state=BotState.RUNNING)
    assert [b.id for b in await store.list_bots()] == [bot.id, other.id]
    assert await store.count_bots() == 2

    updated = await store.update_bot(
        bot.id, name="Momo 2", state=BotState.ERROR, error_reason="boom", streaming=False, budget=Decimal(7)
    )
    assert updated is not None
    assert (updated.name, updated.state, updated.error_reason, updated.streaming, updated.budget) == (
        "Momo 2",
        BotState.ERROR,
        "boom",
        False,
        Decimal(7),
    )
    assert updated.created_at == bot.created_at
    assert updated.updated_at > bot.updated_at
    assert await store.get_bot(bot.id) == updated
    assert await store.update_bot(bot.id) == updated
    assert await store.update_bot(10_000, name="ghost") is None
    with pytest.raises(TypeError, match="product_id"):
        await store.update_bot(bot.id, product_id="SOL-USD")

    assert await store.delete_bot(bot.id) is True
    assert await store.delete_bot(bot.id) is False
    assert await store.get_bot(bot.id) is None
    assert [b.id for b in await store.list_bots()] == [other.id]
    assert await store.count_bots() == 1


async def _numbered(store: Store, bot_id: int) -> int:
    """Store an intent as the order path does; the order number it took."""
    order = await store.insert_order_with_seq(bot_id, lambda seq: _order(f"sb-x-{bot_id}-{seq}", bot_id))
    return int(order.client_order_id.rsplit("-", 1)[1])


async def test_order_numbers_are_atomic_under_concurrency(store: Store) -> None:
    bot_id = await _bot_id(store)
    other_id = await _bot_id(store, "other")
    seqs = await asyncio.gather(*(_numbered(store, bot_id) for _ in range(50)))
    assert sorted(seqs) == list(range(1, 51))
    assert await _numbered(store, other_id) == 1
    with pytest.raises(LookupError):
        await _numbered(store, 10_000)


async def test_deleted_bot_keeps_its_history_and_its_id_is_never_reused(store: Store) -> None:
    keep = await _bot_id(store, "keep")
    gone = await _bot_id(store, "gone")
    await store.insert_order(_order("sb-x-gone-1", bot_id=gone))
    await store.insert_fill(_fill("t-gone"), bot_id=gone, client_order_id="sb-x-gone-1")
    await store.upsert_trade(_trade("sb-x-gone-1", bot_id=gone))
    assert await store.delete_bot(gone)

    newer = await _bot_id(store, "newer")
    assert newer not in {keep, gone}
    assert await _numbered(store, newer) == 1
    assert [o.bot_id for o in await store.page_orders(bot_id=gone)] == [gone]
    assert [f.trade_id for f in await store.fills_for_bot(gone)] == ["t-gone"]
    assert [t.bot_id for t in await store.list_trades(bot_id=gone)] == [gone]


# --- money and time --------------------------------------------------------------------------


@pytest.mark.parametrize("amount", EXACT_AMOUNTS, ids=str)
async def test_decimals_round_trip_exactly(store: Store, amount: Decimal) -> None:
    bot = await store.create_bot("m", "threshold", "BTC-USD", {}, amount)
    assert (await store.get_bot(bot.id)) == bot
    assert str(bot.budget) == str(amount)

    order = _order(
        quote_size=amount,
        base_size=amount,
        limit_price=amount,
        filled_size=amount,
        average_price=amount,
        filled_value=amount,
        fees=amount,
    )
    await store.insert_order(order)
    assert await store.get_order(order.client_order_id) == order
    stored = await store.get_order(order.client_order_id)
    assert stored is not None
    assert {str(stored.quote_size), str(stored.fees)} == {str(amount)}

    await store.insert_fill(
        _fill(price=amount, size=amount, commission=amount), bot_id=1, client_order_id=order.client_order_id
    )
    (fill,) = await store.fills_for_bot(1)
    assert (str(fill.price), str(fill.size), str(fill.commission)) == (str(amount),) * 3

    trade = await store.upsert_trade(
        _trade(base_size=amount, price=amount, quote_amount=amount, fee=amount, net_total=amount)
    )
    (listed,) = await store.list_trades()
    assert listed == trade
    assert {str(listed.base_size), str(listed.net_total)} == {str(amount)}


async def test_money_refuses_floats_and_non_finite_values(store: Store) -> None:
    with pytest.raises(TypeError, match="Decimal"):
        await store.create_bot("f", "threshold", "BTC-USD", {}, 0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Decimal"):
        await store.create_bot("i", "threshold", "BTC-USD", {}, True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        await store.create_bot("n", "threshold", "BTC-USD", {}, Decimal("NaN"))
    assert await store.count_bots() == 0


async def test_datetimes_come_back_timezone_aware_utc(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    created = datetime(2025, 6, 1, 14, 0, 0, 123456, tzinfo=plus_two)
    await store.insert_order(_order(created_at=created, submitted_at=created))
    order = await store.get_order("sb-test-1-1")
    assert order is not None
    assert order.created_at == created
    assert order.created_at.tzinfo is UTC
    assert order.created_at.hour == 12
    assert order.submitted_at is not None
    assert order.submitted_at.tzinfo is UTC
    assert order.acknowledged_at is None

    bot = await store.create_bot("t", "threshold", "BTC-USD", {}, Decimal(1))
    assert bot.created_at.tzinfo is UTC
    fetched = await store.get_bot(bot.id)
    assert fetched is not None
    assert fetched.updated_at.tzinfo is UTC

    with pytest.raises(ValueError, match="naive"):
        await store.insert_order(_order("sb-naive", created_at=datetime(2025, 1, 1)))
    assert await store.get_order("sb-naive") is None


# --- orders ----------------------------------------------------------------------------------


async def test_duplicate_order_is_refused_and_the_stored_one_is_unchanged(store: Store) -> None:
    original = _order()
    await store.insert_order(original)
    with pytest.raises(DuplicateOrder, match="sb-test-1-1"):
        await store.insert_order(replace(original, side=Side.SELL, quote_size=Decimal(999), reason="again"))
    assert await store.get_order(original.client_order_id) == original
    assert len(await store.page_orders()) == 1


async def test_order_lifecycle_updates(store: Store) -> None:
    await store.insert_order(_order())
    acked = await store.update_order(
        "sb-test-1-1",
        status=OrderStatus.ACKNOWLEDGED,
        exchange_order_id="ex-1",
        acknowledged_at=T0 + timedelta(seconds=1),
    )
    assert acked.status is OrderStatus.ACKNOWLEDGED
    assert acked.exchange_order_id == "ex-1"
    done = await store.update_order(
        "sb-test-1-1",
        status="filled",
        filled_size=Decimal("0.00010296"),
        average_price=Decimal("97123.45678901"),
        filled_value=Decimal("9.99983"),
        fees=Decimal("0.05998"),
        completed_at=T0 + timedelta(seconds=2),
    )
    assert done.status is OrderStatus.FILLED
    assert done.filled_value == Decimal("9.99983")
    assert done.acknowledged_at == T0 + timedelta(seconds=1)
    assert await store.get_order("sb-test-1-1") == done
    assert await store.update_order("sb-test-1-1") == done

    with pytest.raises(OrderNotFound):
        await store.update_order("sb-missing", status=OrderStatus.FAILED)
    with pytest.raises(TypeError, match="bot_id"):
        await store.update_order("sb-test-1-1", bot_id=2)
    with pytest.raises(ValueError, match="bogus"):
        await store.update_order("sb-test-1-1", status="bogus")
    assert await store.get_order("sb-test-1-1") == done


async def test_an_orders_filled_size_never_goes_down(store: Store) -> None:
    """Two settlements of one order from reads taken at different times: the older one, stored
    last, changes nothing. Amounts compare as numbers, not as SQLite's text ("9" > "10")."""
    await store.insert_order(_order(quote_size=Decimal(1000)))
    ten = await store.update_order(
        "sb-test-1-1", status=OrderStatus.PARTIALLY_FILLED, filled_size=Decimal(10), fees=Decimal(1)
    )
    stale = await store.update_order(
        "sb-test-1-1", status=OrderStatus.PARTIALLY_FILLED, filled_size=Decimal(9), fees=Decimal("0.9")
    )
    assert stale == ten
    assert await store.get_order("sb-test-1-1") == ten
    # The same size written otherwise is no step back; nor are changes that leave the size alone.
    done = await store.update_order("sb-test-1-1", status=OrderStatus.FILLED, filled_size=Decimal("10.000"))
    assert (done.status, done.filled_size) == (OrderStatus.FILLED, Decimal(10))
    assert (await store.update_order("sb-test-1-1", error="noted")).error == "noted"
    more = await store.update_order("sb-test-1-1", filled_size=Decimal("10.0000000000000000001"))
    assert more.filled_size == Decimal("10.0000000000000000001")
    with pytest.raises(OrderNotFound):
        await store.update_order("sb-missing", status=OrderStatus.FILLED, filled_size=Decimal(1))


async def test_orders_by_bot_newest_first_and_the_unresolved_oldest_first(store: Store) -> None:
    statuses = [OrderStatus.INTENT, OrderStatus.ACKNOWLEDGED, OrderStatus.FILLED, OrderStatus.CANCELLED]
    for i, status in enumerate(statuses):
        await store.insert_order(_order(f"sb-a-{i}", bot_id=1, status=status, created_at=T0 + timedelta(i)))
    await store.insert_order(_order("sb-b-0", bot_id=2, status=OrderStatus.PARTIALLY_FILLED))

    assert [o.client_order_id for o in await store.page_orders(bot_id=1)] == [
        "sb-a-3",
        "sb-a-2",
        "sb-a-1",
        "sb-a-0",
    ]
    unresolved = await store.unresolved_orders()
    assert [o.client_order_id for o in unresolved if o.bot_id == 1] == ["sb-a-0", "sb-a-1"]
    assert {o.client_order_id for o in unresolved} == {"sb-a-1", "sb-a-0", "sb-b-0"}
    assert len(await store.page_orders(limit=2)) == 2
    assert await store.get_order("sb-nope") is None
    with pytest.raises(ValueError, match="limit"):
        await store.page_orders(limit=0)


# --- fills -----------------------------------------------------------------------------------


async def test_fills_are_deduplicated_by_trade_id(store: Store) -> None:
    await store.insert_order(_order())
    first = _fill("t-1")
    assert await store.insert_fill(first, bot_id=1, client_order_id="sb-test-1-1") is True
    again = replace(first, price=Decimal(1), size=Decimal(1))
    assert await store.insert_fill(again, bot_id=1, client_order_id="sb-test-1-1") is False
    assert await store.fills_for_bot(1) == [first]


async def test_fills_for_bot_are_oldest_first_and_per_bot(store: Store) -> None:
    await store.insert_order(_order("sb-1"))
    await store.insert_order(_order("sb-2", bot_id=2))
    later = _fill("t-b", side=Side.SELL, trade_time=T0 + timedelta(minutes=5))
    earlier = _fill("t-a", trade_time=T0)
    await store.insert_fill(later, bot_id=1, client_order_id="sb-1")
    await store.insert_fill(earlier, bot_id=1, client_order_id="sb-1")
    await store.insert_fill(_fill("t-c"), bot_id=2, client_order_id="sb-2")
    assert await store.fills_for_bot(1) == [earlier, later]
    assert [f.trade_id for f in await store.fills_for_bot(2)] == ["t-c"]
    assert await store.fills_for_bot(3) == []


async def test_a_fill_for_an_unknown_order_is_refused(store: Store) -> None:
    with pytest.raises(OrderNotFound):
        await store.insert_fill(_fill(), bot_id=1, client_order_id="sb-never-stored")
    assert await store.fills_for_bot(1) == []


# --- trades ----------------------------------------------------------------------------------


async def test_upsert_trade_inserts_then_updates_by_client_order_id(store: Store) -> None:
    await store.insert_order(_order())
    partial = await store.upsert_trade(
        _trade(status=OrderStatus.PARTIALLY_FILLED, base_size=Decimal("0.0001"), filled_at=None)
    )
    assert partial.id is not None
    assert partial.filled_at is None
    final = await store.upsert_trade(_trade())
    assert final.id == partial.id
    assert final == replace(_trade(), id=partial.id)
    assert await store.list_trades() == [final]


async def test_a_trades_size_never_goes_down(store: Store) -> None:
    """The trade of an order settled twice, the older read last: the newer trade stays."""
    await store.insert_order(_order())
    newer = await store.upsert_trade(_trade(base_size=Decimal("10"), fee=Decimal(1)))
    stale = await store.upsert_trade(
        _trade(status=OrderStatus.PARTIALLY_FILLED, base_size=Decimal("9.99999999999999999999"))
    )
    assert stale == newer
    assert await store.list_trades() == [newer]
    again = await store.upsert_trade(_trade(base_size=Decimal("10.00"), fee=Decimal(2)))
    assert (again.id, again.fee) == (newer.id, Decimal(2))  # the same size: updated
    with pytest.raises(OrderNotFound):
        await store.upsert_trade(_trade("sb-never-stored"))


async def test_final_orders_with_fills_and_no_trade_of_their_size_are_listed(store: Store) -> None:
    """What a process stopped between an order's last update and its trade leaves: listed, oldest
    first, until a trade of the order's size is stored; orders without fills or not final are not."""
    filled: dict[str, Any] = {
        "status": OrderStatus.FILLED,
        "filled_size": Decimal("10"),
        "exchange_order_id": "ex-1",
    }
    await store.insert_order(_order("sb-a", created_at=T0 + timedelta(seconds=2), **filled))
    await store.insert_order(_order("sb-b", created_at=T0 + timedelta(seconds=1), **filled))
    await store.insert_order(_order("sb-rejected", status=OrderStatus.REJECTED))
    await store.insert_order(_order("sb-open", status=OrderStatus.PARTIALLY_FILLED, filled_size=Decimal("4")))
    await store.upsert_trade(_trade("sb-a", base_size=Decimal("4")))  # an earlier read's trade

    assert [o.client_order_id for o in await store.final_orders_without_their_trade()] == ["sb-b", "sb-a"]
    await store.upsert_trade(_trade("sb-a", base_size=Decimal("10.00")))  # the same size, written longer
    await store.upsert_trade(_trade("sb-b", base_size=Decimal("10")))
    assert await store.final_orders_without_their_trade() == []


async def test_list_trades_filters_and_pages_newest_first(store: Store) -> None:
    expected: list[Trade] = []
    for i in range(12):
        bot_id = 1 + i % 2
        product = "BTC-USD" if i % 3 else "ETH-USD"
        client_order_id = f"sb-{i}"
        await store.insert_order(_order(client_order_id, bot_id=bot_id, product_id=product))
        expected.append(
            await store.upsert_trade(
                _trade(
                    client_order_id,
                    bot_id=bot_id,
                    product_id=product,
                    created_at=T0 + timedelta(minutes=i),
                )
            )
        )
    newest_first = expected[::-1]
    assert await store.list_trades() == newest_first

    second_bot = await store.list_trades(bot_id=2)
    assert second_bot == [t for t in newest_first if t.bot_id == 2]
    assert len(second_bot) == 6
    eth = [t for t in newest_first if t.product_id == "ETH-USD"]
    assert await store.list_trades(product_id="ETH-USD") == eth
    window = await store.list_trades(since=T0 + timedelta(minutes=3), until=T0 + timedelta(minutes=6))
    assert [t.client_order_id for t in window] == ["sb-5", "sb-4", "sb-3"]
    assert await store.list_trades(bot_id=1, product_id="ETH-USD", since=T0 + timedelta(minutes=1)) == [
        t for t in eth if t.bot_id == 1 and t.created_at >= T0 + timedelta(minutes=1)
    ]

    pages: list[list[Trade]] = []
    before_id: int | None = None
    while True:
        page = await store.list_trades(limit=5, before_id=before_id)
        if not page:
            break
        pages.append(page)
        before_id = page[-1].id
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [t for p in pages for t in p] == newest_first

    bot_page = await store.list_trades(bot_id=1, limit=2, before_id=newest_first[2].id)
    assert bot_page == [t for t in newest_first[3:] if t.bot_id == 1][:2]


# --- durability ------------------------------------------------------------------------------


async def test_nothing_is_lost_on_reopen(database_url: str) -> None:
    first = Store(database_url, clock=SystemClock())
    await first.open()
    bot = await first.create_bot("durable", "threshold", "SOL-USD", {"below": "120.5"}, Decimal("100.01"))
    assert await _numbered(first, bot.id) == 1
    assert await _numbered(first, bot.id) == 2
    order = _order("sb-d-1", bot_id=bot.id, product_id="SOL-USD")
    await first.insert_order(order)
    order = await first.update_order(order.client_order_id, status=OrderStatus.FILLED, completed_at=T0)
    fill = _fill("t-d", product_id="SOL-USD")
    await first.insert_fill(fill, bot_id=bot.id, client_order_id=order.client_order_id)
    trade = await first.upsert_trade(_trade(order.client_order_id, bot_id=bot.id, product_id="SOL-USD"))
    await first.close()

    second = Store(database_url, clock=SystemClock())
    await second.open()
    try:
        assert await second.list_bots() == [bot]
        assert await second.get_order(order.client_order_id) == order
        assert await second.fills_for_bot(bot.id) == [fill]
        assert await second.list_trades() == [trade]
        assert await _numbered(second, bot.id) == 3
    finally:
        await second.close()
