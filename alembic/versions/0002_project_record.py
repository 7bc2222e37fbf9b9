"""Vendors, deployments and their links, the project configuration, enhancements.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)


def key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def audit() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "vendors",
        sa.Column("id", key(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("extractor_version", sa.String(50), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        *audit(),
        sa.CheckConstraint("status IN ('operational', 'broken')", name=op.f("ck_vendors_status")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_vendors_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendors")),
    )
    op.create_index("ix_vendors_name_key", "vendors", ["name_key"], unique=True)

    op.create_table(
        "deployments",
        sa.Column("id", key(36), nullable=False),
        sa.Column("deployed_at", TIMESTAMP, nullable=False),
        sa.Column("commit_hash", sa.String(40), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
    )
    op.create_index("ix_deployments_deployed", "deployments", ["deployed_at", "id"])

    op.create_table(
        "deployment_vendors",
        sa.Column("deployment_id", key(36), nullable=False),
        sa.Column("vendor_id", key(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_vendors_deployment_id_deployments"),
        ),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["vendors.id"], name=op.f("fk_deployment_vendors_vendor_id_vendors")
        ),
        sa.PrimaryKeyConstraint("deployment_id", "vendor_id", name=op.f("pk_deployment_vendors")),
    )
    op.create_index("ix_deployment_vendors_vendor_id", "deployment_vendors", ["vendor_id"])

    op.create_table(
        "deployment_work_items",
        sa.Column("deployment_id", key(36), nullable=False),
        sa.Column("work_item_id", key(36), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_work_items_deployment_id_deployments"),
        ),
        sa.ForeignKeyConstraint(
            ["work_item_id"],
            ["work_items.id"],
            name=op.f("fk_deployment_work_items_work_item_id_work_items"),
        ),
        sa.PrimaryKeyConstraint(
            "deployment_id", "work_item_id", name=op.f("pk_deployment_work_items")
        ),
    )
    op.create_index(
        "ix_deployment_work_items_work_item_id", "deployment_work_items", ["work_item_id"]
    )

    op.create_table(
        "configuration",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("active_context_type", sa.String(20), nullable=False),
        sa.Column("current_session_id", key(36), nullable=True),
        sa.Column("git_branch", sa.String(200), nullable=True),
        sa.Column("git_head_commit", sa.String(40), nullable=True),
        sa.Column("default_token_budget", sa.Integer(), nullable=False),
        sa.Column("database_healthy", sa.Boolean(), nullable=False),
        sa.Column("last_health_check_at", TIMESTAMP, nullable=True),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_configuration_singleton")),
        sa.CheckConstraint(
            "active_context_type IN ('feature', 'maintenance', 'research')",
            name=op.f("ck_configuration_active_context_type"),
        ),
        sa.CheckConstraint(
            "default_token_budget BETWEEN 1000 AND 1000000",
            name=op.f("ck_configuration_token_budget"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configuration")),
    )

    op.create_table(
        "enhancements",
        sa.Column("id", key(36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("target_quarter", sa.String(7), nullable=True),
        sa.Column("requires_constitutional_principles", JSON, nullable=False),
        *audit(),
        sa.CheckConstraint(
            "status IN ('planned', 'approved', 'implementing', 'completed')",
            name=op.f("ck_enhancements_status"),
        ),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name=op.f("ck_enhancements_priority")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_enhancements_version")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enhancements")),
    )
    op.create_index("ix_enhancements_order", "enhancements", ["priority", "target_quarter", "id"])

    op.create_table(
        "enhancement_dependencies",
        sa.Column("enhancement_id", key(36), nullable=False),
        sa.Column("depends_on_id", key(36), nullable=False),
        sa.CheckConstraint(
            "enhancement_id <> depends_on_id", name=op.f("ck_enhancement_dependencies_not_self")
        ),
        sa.ForeignKeyConstraint(
            ["enhancement_id"],
            ["enhancements.id"],
            name=op.f("fk_enhancement_dependencies_enhancement_id_enhancements"),
        ),
        sa.ForeignKeyConstraint(
            ["depends_on_id"],
            ["enhancements.id"],
            name=op.f("fk_enhancement_dependencies_depends_on_id_enhancements"),
        ),
        sa.PrimaryKeyConstraint(
            "enhancement_id", "depends_on_id", name=op.f("pk_enhancement_dependencies")
        ),
    )
    op.create_index(
        "ix_enhancement_dependencies_depends_on_id", "enhancement_dependencies", ["depends_on_id"]
    )


def downgrade() -> None:
    op.drop_index(
        "ix_enhancement_dependencies_depends_on_id", table_name="enhancement_dependencies"
    )
    op.drop_table("enhancement_dependencies")
    op.drop_index("ix_enhancements_order", table_name="enhancements")
    op.drop_table("enhancements")
    op.drop_table("configuration")
    op.drop_index("ix_deployment_work_items_work_item_id", table_name="deployment_work_items")
    op.drop_table("deployment_work_items")
    op.drop_index("ix_deployment_vendors_vendor_id", table_name="deployment_vendors")
    op.drop_table("deployment_vendors")
    op.drop_index("ix_deployments_deployed", table_name="deployments")
    op.drop_table("deployments")
    op.drop_index("ix_vendors_name_key", table_name="vendors")
    op.drop_table("vendors")
