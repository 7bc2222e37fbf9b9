"""The local replica's change feed: on Postgres, triggers record the key and transaction id
of every row changed in a replicated table; the replica file keeps how far it is up to date
and which rows writes queued on it changed. The seen-rows bookkeeping (cache_entries) goes.

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIMESTAMP = sa.DateTime(timezone=True)
CHANGE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Every replicated table and its primary key columns, as worktrack.store.replica.REPLICATED
# lists them (tests/fallback/test_replica_refresh.py checks the two agree).
REPLICATED = {
    "work_items": "id",
    "work_items_archive": "id",
    "work_item_dependencies": "source_id, target_id, dependency_type",
    "change_log": "id",
    "vendors": "id",
    "deployments": "id",
    "deployment_vendors": "deployment_id, vendor_id",
    "deployment_work_items": "deployment_id, work_item_id",
    "configuration": "id",
    "enhancements": "id",
    "enhancement_dependencies": "enhancement_id, depends_on_id",
    "sync_conflicts": "id",
}
# (0007 adds work_item_notes and work_item_notes_archive, with the same triggers.)

# One statement-level trigger per event: a bulk statement (an archive run, an import) costs
# one INSERT ... SELECT over its transition table, not one per row.
_EVENTS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}


def _function(table: str, columns: str) -> str:
    key = f"concat_ws('|', {columns})"
    record = (
        "INSERT INTO replica_changes (txid, table_name, row_key, changed_at) "
        f"SELECT pg_current_xact_id()::text::bigint, '{table}', k, now() FROM"
    )
    return f"""
CREATE FUNCTION replica_log_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {record} (SELECT {key} FROM new_rows) AS changed (k);
    ELSIF TG_OP = 'UPDATE' THEN
        {record} (SELECT {key} FROM old_rows UNION SELECT {key} FROM new_rows) AS changed (k);
    ELSE
        {record} (SELECT {key} FROM old_rows) AS changed (k);
    END IF;
    RETURN NULL;
END $$"""


# A TRUNCATE leaves no rows to name: every replica older than it copies everything again.
_TRUNCATED = """
CREATE FUNCTION replica_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO replica_horizon (id, pruned_below, pruned_at)
    VALUES (1, pg_current_xact_id()::text::bigint + 1, now())
    ON CONFLICT (id) DO UPDATE SET
        pruned_below = GREATEST(replica_horizon.pruned_below, EXCLUDED.pruned_below),
        pruned_at = EXCLUDED.pruned_at;
    RETURN NULL;
END $$"""


def _create_triggers() -> None:
    op.execute(_TRUNCATED)
    for table, columns in REPLICATED.items():
        op.execute(_function(table, columns))
        for event, referencing in _EVENTS.items():
            op.execute(
                f"CREATE TRIGGER replica_{event} AFTER {event.upper()} ON {table} "
                f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION replica_log_{table}()"
            )
        op.execute(
            f"CREATE TRIGGER replica_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION replica_truncated()"
        )


def _drop_triggers() -> None:
    for table in REPLICATED:
        for event in (*_EVENTS, "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS replica_{event} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS replica_log_{table}()")
    op.execute("DROP FUNCTION IF EXISTS replica_truncated()")


def upgrade() -> None:
    op.create_table(
        "replica_changes",
        sa.Column("seq", CHANGE_ID, autoincrement=True, nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("table_name", sa.String(40), nullable=False),
        sa.Column("row_key", sa.String(200), nullable=False),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_replica_changes")),
    )
    op.create_index("ix_replica_changes_txid", "replica_changes", ["txid"])
    op.create_table(
        "replica_horizon",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("pruned_below", sa.BigInteger(), nullable=False),
        sa.Column("pruned_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_replica_horizon_singleton")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replica_horizon")),
    )
    op.create_table(
        "replica_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("watermark", sa.BigInteger(), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("refreshed_at", TIMESTAMP, nullable=False),
        sa.Column("copied_at", TIMESTAMP, nullable=False),
        sa.Column("local_writes", sa.Integer(), nullable=False),
        sa.Column("status_file_stale", sa.Boolean(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_replica_state_singleton")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replica_state")),
    )
    op.create_table(
        "replica_local",
        sa.Column("table_name", sa.String(40), nullable=False),
        sa.Column("row_key", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "row_key", name=op.f("pk_replica_local")),
    )
    op.drop_table("cache_entries")
    if op.get_bind().dialect.name == "postgresql":
        _create_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _drop_triggers()
    op.create_table(
        "cache_entries",
        sa.Column("table_name", sa.String(40), nullable=False),
        sa.Column("row_key", sa.String(200), nullable=False),
        sa.Column("cached_at", TIMESTAMP, nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("table_name", "row_key", name=op.f("pk_cache_entries")),
    )
    op.drop_table("replica_local")
    op.drop_table("replica_state")
    op.drop_table("replica_horizon")
    op.drop_index("ix_replica_changes_txid", table_name="replica_changes")
    op.drop_table("replica_changes")
