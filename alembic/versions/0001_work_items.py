"""Work items, their dependencies, the change log and idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "work_items",
        sa.Column("id", key(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("item_type", sa.String(20), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("parent_id", key(36), nullable=True),
        sa.Column("path", key(240), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("branch_name", sa.String(100), nullable=True),
        sa.Column("commit_hash", sa.String(40), nullable=True),
        sa.Column("pr_number", sa.Integer(), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=True),
        sa.Column("claim_expires_at", TIMESTAMP, nullable=True),
        sa.Column("deleted_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.CheckConstraint(
            "item_type IN ('project', 'session', 'task', 'research')",
            name=op.f("ck_work_items_item_type"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'completed', 'blocked')", name=op.f("ck_work_items_status")
        ),
        sa.CheckConstraint("priority BETWEEN 0 AND 4", name=op.f("ck_work_items_priority")),
        sa.CheckConstraint("depth BETWEEN 0 AND 5", name=op.f("ck_work_items_depth")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_work_items_version")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["work_items.id"], name=op.f("fk_work_items_parent_id_work_items")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items")),
    )
    op.create_index("ix_work_items_parent_id", "work_items", ["parent_id"])
    op.create_index("ix_work_items_path", "work_items", ["path"], unique=True)
    op.create_index("ix_work_items_updated", "work_items", ["updated_at", "id"])
    op.create_index("ix_work_items_ready", "work_items", ["status", "priority", "created_at"])

    op.create_table(
        "work_item_dependencies",
        sa.Column("source_id", key(36), nullable=False),
        sa.Column("target_id", key(36), nullable=False),
        sa.Column("dependency_type", sa.String(20), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.CheckConstraint(
            "dependency_type IN ('blocks', 'depends_on')",
            name=op.f("ck_work_item_dependencies_dependency_type"),
        ),
        sa.CheckConstraint(
            "source_id <> target_id", name=op.f("ck_work_item_dependencies_not_self")
        ),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["work_items.id"],
            name=op.f("fk_work_item_dependencies_source_id_work_items"),
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["work_items.id"],
            name=op.f("fk_work_item_dependencies_target_id_work_items"),
        ),
        sa.PrimaryKeyConstraint(
            "source_id", "target_id", "dependency_type", name=op.f("pk_work_item_dependencies")
        ),
    )
    op.create_index("ix_work_item_dependencies_target_id", "work_item_dependencies", ["target_id"])

    op.create_table(
        "change_log",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.String(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=False),
        sa.Column("changes", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_log")),
    )
    op.create_index("ix_change_log_entity", "change_log", ["entity", "entity_id", "version"])

    op.create_table(
        "idempotency_keys",
        sa.Column("request_id", sa.String(100), nullable=False),
        sa.Column("tool", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("result", JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_idempotency_keys")),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index("ix_change_log_entity", table_name="change_log")
    op.drop_table("change_log")
    op.drop_index("ix_work_item_dependencies_target_id", table_name="work_item_dependencies")
    op.drop_table("work_item_dependencies")
    op.drop_index("ix_work_items_ready", table_name="work_items")
    op.drop_index("ix_work_items_updated", table_name="work_items")
    op.drop_index("ix_work_items_path", table_name="work_items")
    op.drop_index("ix_work_items_parent_id", table_name="work_items")
    op.drop_table("work_items")
