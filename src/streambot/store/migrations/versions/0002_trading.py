"""Trading engine: risk-rejection codes and timestamps on orders, risk state, equity snapshots.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

Written by hand to match ``streambot.store.models`` (a test compares the two); types are spelled
out rather than imported so later model changes cannot rewrite history.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Text().with_variant(postgresql.NUMERIC(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        # Orders stored before this revision have no code; '' reads as "none".
        batch.add_column(sa.Column("error_code", sa.String(64), server_default="", nullable=False))
        batch.add_column(sa.Column("risk_checked_at", TIMESTAMP, nullable=True))

    op.create_table(
        "risk_state",
        sa.Column("scope_key", sa.String(64), nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=True),
        sa.Column("halted", sa.Boolean(), nullable=False),
        sa.Column("halt_code", sa.String(64), nullable=False),
        sa.Column("halt_reason", sa.Text(), nullable=False),
        sa.Column("halted_at", TIMESTAMP, nullable=True),
        sa.Column("kill_switch", sa.Boolean(), nullable=False),
        sa.Column("kill_reason", sa.Text(), nullable=False),
        sa.Column("kill_at", TIMESTAMP, nullable=True),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("day_start_equity", MONEY, nullable=True),
        sa.Column("equity_peak", MONEY, nullable=True),
        sa.Column("last_loss_at", TIMESTAMP, nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("scope_key", name="pk_risk_state"),
    )

    op.create_table(
        "equity_snapshots",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("taken_at", TIMESTAMP, nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=True),
        sa.Column("equity", MONEY, nullable=False),
        sa.Column("realized_pnl", MONEY, nullable=False),
        sa.Column("unrealized_pnl", MONEY, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_equity_snapshots"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_equity_snapshots_bot_id_taken_at", "equity_snapshots", ["bot_id", "taken_at"])


def downgrade() -> None:
    op.drop_table("equity_snapshots")
    op.drop_table("risk_state")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("risk_checked_at")
        batch.drop_column("error_code")
