"""One process per database (a lease row) and entries halted per product (position mismatches).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

Written by hand to match ``streambot.store.models`` (a test compares the two).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "process_lease",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("holder_id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(200), nullable=False),
        sa.Column("pid", sa.BigInteger(), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("renewed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_process_lease"),
    )
    op.create_table(
        "product_holds",
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("held_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("product_id", name="pk_product_holds"),
    )


def downgrade() -> None:
    op.drop_table("product_holds")
    op.drop_table("process_lease")
