"""The work-item archive, the once-a-day bookkeeping of background runs, the ledger of legacy
imports; links to work items lose their foreign keys so archived items keep them.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)

# (table, column) of every link to a work item: its foreign key goes, the link stays.
LINKS = (
    ("work_item_dependencies", "source_id"),
    ("work_item_dependencies", "target_id"),
    ("deployment_work_items", "work_item_id"),
)
WORK_ITEM_COLUMNS = (
    "id",
    "version",
    "item_type",
    "title",
    "status",
    "priority",
    "parent_id",
    "path",
    "depth",
    "branch_name",
    "commit_hash",
    "pr_number",
    "metadata",
    "search_text",
    "claimed_by",
    "claim_expires_at",
    "deleted_at",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
)


def key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _fk_name(table: str, column: str) -> str:
    return f"fk_{table}_{column}_work_items"


def upgrade() -> None:
    op.create_table(
        "work_items_archive",
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
        sa.Column("archived_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_items_archive")),
    )
    op.create_index("ix_work_items_archive_parent_id", "work_items_archive", ["parent_id"])
    op.create_index("ix_work_items_archive_path", "work_items_archive", ["path"], unique=True)
    op.create_index("ix_work_items_archive_updated", "work_items_archive", ["updated_at", "id"])

    op.create_table(
        "maintenance_runs",
        sa.Column("task", sa.String(40), nullable=False),
        sa.Column("last_run_at", TIMESTAMP, nullable=False),
        sa.Column("last_result", JSON, nullable=True),
        sa.PrimaryKeyConstraint("task", name=op.f("pk_maintenance_runs")),
    )
    op.create_table(
        "legacy_imports",
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("imported_at", TIMESTAMP, nullable=False),
        sa.Column("imported_by", sa.String(100), nullable=False),
        sa.Column("result", JSON, nullable=False),
        sa.PrimaryKeyConstraint("source_sha256", name=op.f("pk_legacy_imports")),
    )

    # Batch mode rebuilds the SQLite tables (which cannot drop a constraint in place);
    # on Postgres it is a plain ALTER TABLE.
    for table, column in LINKS:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(_fk_name(table, column), type_="foreignkey")


def downgrade() -> None:
    # Archived items go back to the active table first, so no row is lost and the foreign
    # keys below find every item their links name.
    columns = ", ".join(WORK_ITEM_COLUMNS)
    op.execute(f"INSERT INTO work_items ({columns}) SELECT {columns} FROM work_items_archive")
    for table, column in LINKS:
        with op.batch_alter_table(table) as batch:
            batch.create_foreign_key(_fk_name(table, column), "work_items", [column], ["id"])
    op.drop_table("legacy_imports")
    op.drop_table("maintenance_runs")
    op.drop_index("ix_work_items_archive_updated", table_name="work_items_archive")
    op.drop_index("ix_work_items_archive_path", table_name="work_items_archive")
    op.drop_index("ix_work_items_archive_parent_id", table_name="work_items_archive")
    op.drop_table("work_items_archive")
