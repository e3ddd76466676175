"""Bots, orders, fills and trades.

Revision ID: 0001
Revises:
Create Date: 2025-11-21

Written by hand to match ``streambot.store.models`` (a test compares the two). The column types are
spelled out here rather than imported, so later changes to the models cannot rewrite history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Exact decimals: arbitrary-precision NUMERIC on PostgreSQL, the decimal's text on SQLite.
MONEY = sa.Text().with_variant(postgresql.NUMERIC(), "postgresql")
# Ids are never reused: AUTOINCREMENT needs the INTEGER rowid alias on SQLite.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_OBJECT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bots",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("strategy", sa.String(200), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("params", JSON_OBJECT, nullable=False),
        sa.Column("budget", MONEY, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("error_reason", sa.Text(), nullable=False),
        sa.Column("streaming", sa.Boolean(), nullable=False),
        sa.Column("order_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bots"),
        sqlite_autoincrement=True,
    )

    op.create_table(
        "orders",
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("quote_size", MONEY, nullable=True),
        sa.Column("base_size", MONEY, nullable=True),
        sa.Column("limit_price", MONEY, nullable=True),
        sa.Column("exchange_order_id", sa.String(64), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("filled_size", MONEY, nullable=False),
        sa.Column("average_price", MONEY, nullable=False),
        sa.Column("filled_value", MONEY, nullable=False),
        sa.Column("fees", MONEY, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("submitted_at", TIMESTAMP, nullable=True),
        sa.Column("acknowledged_at", TIMESTAMP, nullable=True),
        sa.Column("completed_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("client_order_id", name="pk_orders"),
    )
    op.create_index("ix_orders_bot_id_created_at", "orders", ["bot_id", "created_at"])
    op.create_index("ix_orders_status", "orders", ["status"])

    op.create_table(
        "fills",
        sa.Column("trade_id", sa.String(64), nullable=False),
        sa.Column("order_id", sa.String(64), nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("size", MONEY, nullable=False),
        sa.Column("commission", MONEY, nullable=False),
        sa.Column("trade_time", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("trade_id", name="pk_fills"),
        sa.ForeignKeyConstraint(
            ["client_order_id"], ["orders.client_order_id"], name="fk_fills_client_order_id"
        ),
    )
    op.create_index("ix_fills_bot_id_trade_time", "fills", ["bot_id", "trade_time"])
    op.create_index("ix_fills_client_order_id", "fills", ["client_order_id"])

    op.create_table(
        "trades",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("side", sa.String(4), nullable=False),
        sa.Column("base_size", MONEY, nullable=False),
        sa.Column("price", MONEY, nullable=False),
        sa.Column("quote_amount", MONEY, nullable=False),
        sa.Column("fee", MONEY, nullable=False),
        sa.Column("net_total", MONEY, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("client_order_id", sa.String(128), nullable=False),
        sa.Column("exchange_order_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("filled_at", TIMESTAMP, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_trades"),
        sa.UniqueConstraint("client_order_id", name="uq_trades_client_order_id"),
        sa.ForeignKeyConstraint(
            ["client_order_id"], ["orders.client_order_id"], name="fk_trades_client_order_id"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_trades_bot_id_id", "trades", ["bot_id", "id"])
    op.create_index("ix_trades_product_id_id", "trades", ["product_id", "id"])
    op.create_index("ix_trades_created_at", "trades", ["created_at"])


def downgrade() -> None:
    op.drop_table("trades")
    op.drop_table("fills")
    op.drop_table("orders")
    op.drop_table("bots")
