"""The cluster: per-bot leases with a fencing token, and the workers' heartbeats.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

Written by hand to match ``streambot.store.models`` (a test compares the two).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "bot_leases",
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("renewed_at", TIMESTAMP, nullable=False),
        sa.Column("running", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("bot_id", name="pk_bot_leases"),
    )
    op.create_table(
        "cluster_workers",
        sa.Column("worker_id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.BigInteger(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("last_seen", TIMESTAMP, nullable=False),
        sa.Column("bots", sa.JSON(), nullable=False),
        sa.Column("ticks_per_s", sa.Float(), nullable=False),
        sa.Column("p99_us", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name="pk_cluster_workers"),
    )


def downgrade() -> None:
    op.drop_table("cluster_workers")
    op.drop_table("bot_leases")
