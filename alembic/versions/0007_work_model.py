"""The work model: descriptions, acceptance criteria and labels on every work item; six
statuses (completed and cancelled are closed); a project's description moves out of its
metadata into the new column; append-only notes, with their archive, fed to the replica.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIMESTAMP = sa.DateTime(timezone=True)
ITEM_TABLES = ("work_items", "work_items_archive")
NEW_STATUSES = ("active", "in_progress", "blocked", "deferred", "completed", "cancelled")
OLD_STATUSES = ("active", "completed", "blocked")
# What each new status becomes on downgrade, where the old schema has no such status.
DOWNGRADED = {"in_progress": "active", "deferred": "blocked", "cancelled": "completed"}
# The old schema capped a project's metadata.description at 1,000 characters.
OLD_DESCRIPTION_LIMIT = 1000
NOTE_TABLES = {"work_item_notes": "id", "work_item_notes_archive": "id"}
_EVENTS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(sa.String(length, collation="C"), "postgresql")


def _status_check(statuses: tuple[str, ...]) -> str:
    return "status IN ({})".format(", ".join(repr(status) for status in statuses))


def _replace_status_check(statuses: tuple[str, ...]) -> None:
    # Batch mode rebuilds the SQLite table (which cannot alter a CHECK in place).
    with op.batch_alter_table("work_items") as batch:
        batch.drop_constraint(op.f("ck_work_items_status"), type_="check")
        batch.create_check_constraint(op.f("ck_work_items_status"), _status_check(statuses))


def _is_postgres() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _move_description_out_of_metadata(table: str) -> None:
    if _is_postgres():
        op.execute(
            f"UPDATE {table} SET description = metadata->>'description', "
            "metadata = metadata - 'description' "
            "WHERE item_type = 'project' AND metadata ? 'description'"
        )
    else:
        op.execute(
            f"UPDATE {table} SET description = json_extract(metadata, '$.description'), "
            "metadata = json_remove(metadata, '$.description') "
            "WHERE item_type = 'project' AND json_type(metadata, '$.description') IS NOT NULL"
        )


def _move_description_into_metadata(table: str) -> None:
    limit = OLD_DESCRIPTION_LIMIT
    if _is_postgres():
        op.execute(
            f"UPDATE {table} SET metadata = metadata || jsonb_build_object('description', "
            f"left(coalesce(description, ''), {limit})) WHERE item_type = 'project'"
        )
    else:
        op.execute(
            f"UPDATE {table} SET metadata = json_set(metadata, '$.description', "
            f"substr(coalesce(description, ''), 1, {limit})) WHERE item_type = 'project'"
        )


def _notes_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", key(36), nullable=False),
        sa.Column("work_item_id", key(36), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
    ]


def _create_notes() -> None:
    op.create_table(
        "work_item_notes",
        *_notes_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_item_notes")),
    )
    op.create_index(
        "ix_work_item_notes_item", "work_item_notes", ["work_item_id", "ordinal"], unique=True
    )
    op.create_table(
        "work_item_notes_archive",
        *_notes_columns(),
        sa.Column("archived_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_item_notes_archive")),
    )
    op.create_index(
        "ix_work_item_notes_archive_item",
        "work_item_notes_archive",
        ["work_item_id", "ordinal"],
        unique=True,
    )


# The same change-feed triggers as 0006 makes for every replicated table.
def _replica_function(table: str, columns: str) -> str:
    row_key = f"concat_ws('|', {columns})"
    record = (
        "INSERT INTO replica_changes (txid, table_name, row_key, changed_at) "
        f"SELECT pg_current_xact_id()::text::bigint, '{table}', k, now() FROM"
    )
    return f"""
CREATE FUNCTION replica_log_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {record} (SELECT {row_key} FROM new_rows) AS changed (k);
    ELSIF TG_OP = 'UPDATE' THEN
        {record} (SELECT {row_key} FROM old_rows UNION SELECT {row_key} FROM new_rows)
            AS changed (k);
    ELSE
        {record} (SELECT {row_key} FROM old_rows) AS changed (k);
    END IF;
    RETURN NULL;
END $$"""


def _create_note_triggers() -> None:
    for table, columns in NOTE_TABLES.items():
        op.execute(_replica_function(table, columns))
        for event, referencing in _EVENTS.items():
            op.execute(
                f"CREATE TRIGGER replica_{event} AFTER {event.upper()} ON {table} "
                f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION replica_log_{table}()"
            )
        op.execute(
            f"CREATE TRIGGER replica_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION replica_truncated()"
        )


def _drop_note_triggers() -> None:
    for table in NOTE_TABLES:
        for event in (*_EVENTS, "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS replica_{event} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS replica_log_{table}()")


def upgrade() -> None:
    for table in ITEM_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("description", sa.Text(), nullable=True))
            batch.add_column(sa.Column("acceptance_criteria", sa.Text(), nullable=True))
            batch.add_column(
                sa.Column("labels", JSON, nullable=False, server_default=sa.text("'[]'"))
            )
        _move_description_out_of_metadata(table)
    _replace_status_check(NEW_STATUSES)
    _create_notes()
    if _is_postgres():
        _create_note_triggers()


def downgrade() -> None:
    if _is_postgres():
        _drop_note_triggers()
    op.drop_index("ix_work_item_notes_archive_item", table_name="work_item_notes_archive")
    op.drop_table("work_item_notes_archive")
    op.drop_index("ix_work_item_notes_item", table_name="work_item_notes")
    op.drop_table("work_item_notes")
    for table in ITEM_TABLES:
        for new, old in DOWNGRADED.items():
            op.execute(f"UPDATE {table} SET status = '{old}' WHERE status = '{new}'")
        _move_description_into_metadata(table)
    _replace_status_check(OLD_STATUSES)
    for table in ITEM_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("labels")
            batch.drop_column("acceptance_criteria")
            batch.drop_column("description")
