"""Outage support: the local write queue and cache bookkeeping, applied operations and sync
conflicts in the primary.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "write_queue",
        sa.Column("seq", SEQ, autoincrement=True, nullable=False),
        sa.Column("op_id", sa.String(36), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("args", JSON, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(100), nullable=True),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("queued_at", TIMESTAMP, nullable=False),
        sa.Column("queued_by", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'conflict')", name=op.f("ck_write_queue_state")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_write_queue")),
    )
    op.create_index("ix_write_queue_op_id", "write_queue", ["op_id"], unique=True)

    op.create_table(
        "applied_ops",
        sa.Column("op_id", sa.String(36), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("applied_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "outcome IN ('applied', 'conflict')", name=op.f("ck_applied_ops_outcome")
        ),
        sa.PrimaryKeyConstraint("op_id", name=op.f("pk_applied_ops")),
    )

    op.create_table(
        "sync_conflicts",
        sa.Column(
            "id",
            sa.String(36).with_variant(sa.String(36, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("op_id", sa.String(36), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(100), nullable=True),
        sa.Column("queued_at", TIMESTAMP, nullable=False),
        sa.Column("queued_by", sa.String(100), nullable=False),
        sa.Column("attempted_change", JSON, nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("current_version", sa.Integer(), nullable=True),
        sa.Column("current", JSON, nullable=True),
        sa.Column("reason", JSON, nullable=False),
        sa.Column("detected_at", TIMESTAMP, nullable=False),
        sa.Column("resolved_at", TIMESTAMP, nullable=True),
        sa.Column("resolution", sa.String(20), nullable=True),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('discard', 'reapply')",
            name=op.f("ck_sync_conflicts_resolution"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_conflicts")),
    )
    op.create_index("ix_sync_conflicts_op_id", "sync_conflicts", ["op_id"], unique=True)
    op.create_index("ix_sync_conflicts_open", "sync_conflicts", ["resolved_at", "detected_at"])

    op.create_table(
        "cache_entries",
        sa.Column("table_name", sa.String(40), nullable=False),
        sa.Column("row_key", sa.String(200), nullable=False),
        sa.Column("cached_at", TIMESTAMP, nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "row_key", name=op.f("pk_cache_entries")),
    )


def downgrade() -> None:
    op.drop_table("cache_entries")
    op.drop_index("ix_sync_conflicts_open", table_name="sync_conflicts")
    op.drop_index("ix_sync_conflicts_op_id", table_name="sync_conflicts")
    op.drop_table("sync_conflicts")
    op.drop_table("applied_ops")
    op.drop_index("ix_write_queue_op_id", table_name="write_queue")
    op.drop_table("write_queue")
