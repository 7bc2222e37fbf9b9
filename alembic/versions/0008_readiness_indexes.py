"""Indexes of the readiness rule (ADR 0014): the ids of the open work items (a partial
index: few rows, read whole by ready_work and blocked_work); each item's parent and status
(ready_work walks up the parent chain without reading rows); and the links by target
with their type and source, so the waiters on an open item are read from the index alone
(it replaces the index on target_id alone, which it covers).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status IN ('active', 'in_progress', 'blocked', 'deferred') AND deleted_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_work_items_open", "work_items", ["id"], postgresql_where=OPEN, sqlite_where=OPEN
    )
    op.create_index("ix_work_items_chain", "work_items", ["id", "parent_id", "status"])
    op.create_index(
        "ix_work_item_dependencies_waiting",
        "work_item_dependencies",
        ["target_id", "dependency_type", "source_id"],
    )
    op.drop_index("ix_work_item_dependencies_target_id", table_name="work_item_dependencies")


def downgrade() -> None:
    op.create_index("ix_work_item_dependencies_target_id", "work_item_dependencies", ["target_id"])
    op.drop_index("ix_work_item_dependencies_waiting", table_name="work_item_dependencies")
    op.drop_index("ix_work_items_chain", table_name="work_items")
    op.drop_index("ix_work_items_open", table_name="work_items")
