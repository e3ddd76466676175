"""Tables of the store as SQLAlchemy 2 declarative models.

These classes never leave ``streambot.store``: repositories turn rows into ``streambot.domain``
dataclasses. ``migrations/versions`` describes the same schema by hand and a test checks that the
two agree.

Choices worth knowing:

* Money is ``Money``: PostgreSQL's unconstrained ``NUMERIC`` (arbitrary precision, no scale to pad
  to or silently round at) and, on SQLite, which has no decimal type, the decimal's plain string.
  SQLite's numeric affinity would turn a number into a binary float, so text is the only exact
  form there; nothing adds money up in SQL, so text costs nothing.
* Timestamps are ``UtcDateTime``: ``timestamptz`` on PostgreSQL, naive UTC text on SQLite (which
  sorts correctly as text), and always timezone-aware UTC on the way out. Naive datetimes are
  refused on the way in: guessing their zone is how hours go missing.
* Orders, fills and trades keep ``bot_id`` without a foreign key to ``bots``: deleting a bot must
  not delete or orphan its history. Bot ids are never reused (``sqlite_autoincrement``; sequences
  on PostgreSQL) so an old order can never be attributed to a newer bot, and a new bot's
  ``order_seq`` can never produce a client_order_id an old bot already used.
* Fills and trades reference their order by ``client_order_id``: the order is always stored
  (as an intent) before anything is sent, so a fill for an unknown order is a bug to surface.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeEngine

# Identifiers from Coinbase (order ids, trade ids) are UUID-like; 64 leaves room without being TEXT.
_ID_LENGTH = 64
_NAME_LENGTH = 200


class Money(TypeDecorator[Decimal]):
    """An exact ``Decimal``: ``NUMERIC`` on PostgreSQL, its fixed-point string elsewhere."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.NUMERIC(asdecimal=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> Decimal | str | None:
        if value is None:
            return None
        # A float here means binary rounding already happened upstream; refuse rather than store it.
        if isinstance(value, bool) or not isinstance(value, Decimal | int):
            raise TypeError(f"money must be a Decimal, not {type(value).__name__}: {value!r}")
        amount = Decimal(value)
        if not amount.is_finite():
            raise ValueError(f"money must be a finite number, not {amount}")
        if dialect.name == "postgresql":
            return amount
        # Fixed-point keeps the exponent of every amount with decimal places (the usual case), so
        # the stored text reads like the number and converts back to an identical Decimal.
        return format(amount, "f")

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))


# SQLite compares the text of two amounts as text ("10" < "9"): this function of the store's own
# SQLite connections compares them as the decimals they are (registered in ``database.py``).
MONEY_AT_MOST = "money_at_most"


def money_at_most(left: str | None, right: str | None) -> int:
    """SQLite's ``money_at_most(a, b)``: 1 when the amount ``a`` is at most ``b``, exactly; also
    when either is NULL (nothing stored to compare with)."""
    if left is None or right is None:
        return 1
    return int(Decimal(left) <= Decimal(right))


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC ``datetime`` in and out, on every backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"a timestamp must be a datetime, not {type(value).__name__}: {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the store; pass an aware one")
        value = value.astimezone(UTC)
        # SQLite's DATETIME drops tzinfo silently; making it explicitly naive-UTC keeps text order
        # equal to time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSONB on PostgreSQL compares and indexes better than JSON text; same Python value either way.
JsonObject = JSON().with_variant(postgresql.JSONB(), "postgresql")
# BIGINT on PostgreSQL (a long-running platform may pass 2**31 fills); SQLite needs INTEGER for
# its AUTOINCREMENT rowid alias.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    # Named constraints so the hand-written migration and the models name them identically, and a
    # later migration can drop one by name on either backend.
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_N_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class BotRow(Base):
    __tablename__ = "bots"
    # Never reuse an id: see the module docstring.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(_NAME_LENGTH))
    strategy: Mapped[str] = mapped_column(String(_NAME_LENGTH))
    product_id: Mapped[str] = mapped_column(String(_ID_LENGTH))
    params: Mapped[dict[str, Any]] = mapped_column(JsonObject)
    budget: Mapped[Decimal] = mapped_column(Money)
    state: Mapped[str] = mapped_column(String(20))
    error_reason: Mapped[str] = mapped_column(Text)
    streaming: Mapped[bool] = mapped_column(Boolean)
    order_seq: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OrderRow(Base):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_bot_id_created_at", "bot_id", "created_at"),
        Index("ix_orders_status", "status"),
    )

    client_order_id: Mapped[str] = mapped_column(String(_ID_LENGTH * 2), primary_key=True)
    bot_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[str] = mapped_column(String(_ID_LENGTH))
    side: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    quote_size: Mapped[Decimal | None] = mapped_column(Money)
    base_size: Mapped[Decimal | None] = mapped_column(Money)
    limit_price: Mapped[Decimal | None] = mapped_column(Money)
    exchange_order_id: Mapped[str] = mapped_column(String(_ID_LENGTH))
    error: Mapped[str] = mapped_column(Text)
    filled_size: Mapped[Decimal] = mapped_column(Money)
    average_price: Mapped[Decimal] = mapped_column(Money)
    filled_value: Mapped[Decimal] = mapped_column(Money)
    fees: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    error_code: Mapped[str] = mapped_column(String(_ID_LENGTH), server_default="")
    risk_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class FillRow(Base):
    __tablename__ = "fills"
    __table_args__ = (
        Index("ix_fills_bot_id_trade_time", "bot_id", "trade_time"),
        Index("ix_fills_client_order_id", "client_order_id"),
    )

    trade_id: Mapped[str] = mapped_column(String(_ID_LENGTH), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(_ID_LENGTH))
    client_order_id: Mapped[str] = mapped_column(String(_ID_LENGTH * 2), ForeignKey("orders.client_order_id"))
    bot_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[str] = mapped_column(String(_ID_LENGTH))
    side: Mapped[str] = mapped_column(String(4))
    price: Mapped[Decimal] = mapped_column(Money)
    size: Mapped[Decimal] = mapped_column(Money)
    commission: Mapped[Decimal] = mapped_column(Money)
    trade_time: Mapped[datetime] = mapped_column(UtcDateTime)


class TradeRow(Base):
    __tablename__ = "trades"
    __table_args__ = (
        # Listing is newest-first by id with keyset pagination, optionally per bot or product.
        Index("ix_trades_bot_id_id", "bot_id", "id"),
        Index("ix_trades_product_id_id", "product_id", "id"),
        Index("ix_trades_created_at", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bot_id: Mapped[int] = mapped_column(BigInteger)
    product_id: Mapped[str] = mapped_column(String(_ID_LENGTH))
    side: Mapped[str] = mapped_column(String(4))
    base_size: Mapped[Decimal] = mapped_column(Money)
    price: Mapped[Decimal] = mapped_column(Money)
    quote_amount: Mapped[Decimal] = mapped_column(Money)
    fee: Mapped[Decimal] = mapped_column(Money)
    net_total: Mapped[Decimal] = mapped_column(Money)
    status: Mapped[str] = mapped_column(String(20))
    client_order_id: Mapped[str] = mapped_column(
        String(_ID_LENGTH * 2),
        ForeignKey("orders.client_order_id"),
        unique=True,
    )
    exchange_order_id: Mapped[str] = mapped_column(String(_ID_LENGTH))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    filled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RiskStateRow(Base):
    """Kill switches and HALTED, per scope: ``account`` or ``bot:<id>``. Survives restarts.

    The account row also keeps what the equity limits measure from: the UTC day's opening equity
    and the highest equity seen, so a restart cannot reset a daily loss or a drawdown.
    """

    __tablename__ = "risk_state"

    scope_key: Mapped[str] = mapped_column(String(_ID_LENGTH), primary_key=True)
    bot_id: Mapped[int | None] = mapped_column(BigInteger)
    halted: Mapped[bool] = mapped_column(Boolean)
    halt_code: Mapped[str] = mapped_column(String(_ID_LENGTH))
    halt_reason: Mapped[str] = mapped_column(Text)
    halted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    kill_switch: Mapped[bool] = mapped_column(Boolean)
    kill_reason: Mapped[str] = mapped_column(Text)
    kill_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    day: Mapped[str] = mapped_column(String(10))  # UTC date of day_start_equity, YYYY-MM-DD
    day_start_equity: Mapped[Decimal | None] = mapped_column(Money)
    equity_peak: Mapped[Decimal | None] = mapped_column(Money)
    last_loss_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class EquitySnapshotRow(Base):
    """Equity over time for curves: the account's (``bot_id`` null) and each bot's P&L."""

    __tablename__ = "equity_snapshots"
    __table_args__ = (
        Index("ix_equity_snapshots_bot_id_taken_at", "bot_id", "taken_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime)
    bot_id: Mapped[int | None] = mapped_column(BigInteger)
    equity: Mapped[Decimal] = mapped_column(Money)
    realized_pnl: Mapped[Decimal] = mapped_column(Money)
    unrealized_pnl: Mapped[Decimal] = mapped_column(Money)


class ProcessLeaseRow(Base):
    """Which process trades on this database: one row per lease name, renewed while it runs.

    A lease is taken when its row is missing, already ours, or not renewed for the stale period;
    a second ``streambot run`` on the same database finds a fresh row of another process and stops.
    """

    __tablename__ = "process_lease"

    name: Mapped[str] = mapped_column(String(_ID_LENGTH), primary_key=True)
    holder_id: Mapped[str] = mapped_column(String(_ID_LENGTH))
    host: Mapped[str] = mapped_column(String(_NAME_LENGTH))
    pid: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    renewed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ProductHoldRow(Base):
    """Entries halted on a product until a person acknowledges why (a position mismatch)."""

    __tablename__ = "product_holds"

    product_id: Mapped[str] = mapped_column(String(_ID_LENGTH), primary_key=True)
    code: Mapped[str] = mapped_column(String(_ID_LENGTH))
    reason: Mapped[str] = mapped_column(Text)
    held_at: Mapped[datetime] = mapped_column(UtcDateTime)


class BotLeaseRow(Base):
    """Which cluster worker owns a running bot; renewed every second or so by its owner.

    ``token`` grows by one at every change of owner and is never reset (a released lease keeps
    its row with an empty ``worker_id``): the intent insert compares it with the owner's, so a
    worker that lost the lease cannot store an order.
    """

    __tablename__ = "bot_leases"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    worker_id: Mapped[str] = mapped_column(String(_ID_LENGTH))
    token: Mapped[int] = mapped_column(BigInteger)
    renewed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Its worker runs the bot (not waiting for an earlier owner's orders to settle): that worker
    # follows the bot's orders itself, and the account's reconciliation leaves them to it.
    running: Mapped[bool] = mapped_column(Boolean, default=False)


class ClusterWorkerRow(Base):
    """A cluster worker's heartbeat: who it is, the bots it owns and how fast it decides."""

    __tablename__ = "cluster_workers"

    worker_id: Mapped[str] = mapped_column(String(_ID_LENGTH), primary_key=True)
    host: Mapped[str] = mapped_column(String(_NAME_LENGTH))
    pid: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    bots: Mapped[list[int]] = mapped_column(JSON)
    ticks_per_s: Mapped[float] = mapped_column(Float)
    p99_us: Mapped[float] = mapped_column(Float)
