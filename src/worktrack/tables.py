"""The schema: one set of tables for SQLite and Postgres, created only by alembic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps go in as aware datetimes and always come back aware, in UTC.

    SQLite stores them as fixed-width naive UTC strings, so they also sort correctly."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Ids and paths compare byte-wise on both databases (SQLite's default BINARY collation,
# Postgres "C"), so prefix lookups are index range scans.
def _key(length: int) -> Any:
    return String(length).with_variant(String(length, collation="C"), "postgresql")


Id = _key(36)
JsonDoc = JSON().with_variant(JSONB(), "postgresql")
ChangeId = BigInteger().with_variant(Integer(), "sqlite")
ITEM_TYPES = ("project", "session", "task", "research")
VENDOR_STATUSES = ("operational", "broken")
CONTEXT_TYPES = ("feature", "maintenance", "research")
ENHANCEMENT_STATUSES = ("planned", "approved", "implementing", "completed")
ITEM_STATUSES = ("active", "in_progress", "blocked", "deferred", "completed", "cancelled")
# Closed items satisfy the dependencies on them; the rest are open.
CLOSED_STATUSES = ("completed", "cancelled")
OPEN_STATUSES = tuple(s for s in ITEM_STATUSES if s not in CLOSED_STATUSES)
DEPENDENCY_TYPES = ("blocks", "depends_on")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


work_items = Table(
    "work_items",
    metadata,
    Column("id", Id, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("item_type", String(20), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("acceptance_criteria", Text, nullable=True),
    # lower-case, unique, sorted strings
    Column("labels", JsonDoc, nullable=False, server_default=text("'[]'")),
    Column("status", String(20), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("parent_id", Id, ForeignKey("work_items.id"), nullable=True),
    Column("path", _key(240), nullable=False),
    Column("depth", Integer, nullable=False),
    Column("branch_name", String(100), nullable=True),
    Column("commit_hash", String(40), nullable=True),
    Column("pr_number", Integer, nullable=True),
    Column("metadata", JsonDoc, nullable=False),
    Column("search_text", Text, nullable=False),
    Column("claimed_by", String(100), nullable=True),
    Column("claim_expires_at", UTCDateTime, nullable=True),
    Column("deleted_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("updated_by", String(100), nullable=False),
    CheckConstraint(_in("item_type", ITEM_TYPES), name="item_type"),
    CheckConstraint(_in("status", ITEM_STATUSES), name="status"),
    CheckConstraint("priority BETWEEN 0 AND 4", name="priority"),
    CheckConstraint("depth BETWEEN 0 AND 5", name="depth"),
    CheckConstraint("version >= 1", name="version"),
    Index("ix_work_items_parent_id", "parent_id"),
    Index("ix_work_items_path", "path", unique=True),
    Index("ix_work_items_updated", "updated_at", "id"),
    Index("ix_work_items_ready", "status", "priority", "created_at"),
    # The open items' ids, which ready_work and blocked_work read whole (ADR 0014).
    Index(
        "ix_work_items_open",
        "id",
        postgresql_where=text(f"{_in('status', OPEN_STATUSES)} AND deleted_at IS NULL"),
        sqlite_where=text(f"{_in('status', OPEN_STATUSES)} AND deleted_at IS NULL"),
    ),
    # An item's parent and status without its row: ready_work walks up the parent chain.
    Index("ix_work_items_chain", "id", "parent_id", "status"),
)

# The link tables name work items without a foreign key: an item moved to the archive keeps
# its links, and its id then lives in work_items_archive. Items are never hard-deleted, and
# every link is made by a service that checks both ends exist.
dependencies = Table(
    "work_item_dependencies",
    metadata,
    Column("source_id", Id, primary_key=True),
    Column("target_id", Id, primary_key=True),
    Column("dependency_type", String(20), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    CheckConstraint(_in("dependency_type", DEPENDENCY_TYPES), name="dependency_type"),
    CheckConstraint("source_id <> target_id", name="not_self"),
    # The waiters on an item, read from the index alone (ADR 0014).
    Index("ix_work_item_dependencies_waiting", "target_id", "dependency_type", "source_id"),
)

change_log = Table(
    "change_log",
    metadata,
    Column("id", ChangeId, primary_key=True, autoincrement=True),
    Column("entity", String(20), nullable=False),
    Column("entity_id", String(36), nullable=False),
    Column("version", Integer, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("changed_by", String(100), nullable=False),
    Column("changes", JsonDoc, nullable=False),
    Index("ix_change_log_entity", "entity", "entity_id", "version"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("request_id", String(100), primary_key=True),
    Column("tool", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("result", JsonDoc, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)


vendors = Table(
    "vendors",
    metadata,
    Column("id", Id, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("name", String(100), nullable=False),
    # casefolded name: uniqueness and lookups ignore case on both databases
    Column("name_key", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("extractor_version", String(50), nullable=False),
    Column("metadata", JsonDoc, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("updated_by", String(100), nullable=False),
    CheckConstraint(_in("status", VENDOR_STATUSES), name="status"),
    CheckConstraint("version >= 1", name="version"),
    Index("ix_vendors_name_key", "name_key", unique=True),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("deployed_at", UTCDateTime, nullable=False),
    Column("commit_hash", String(40), nullable=False),
    Column("metadata", JsonDoc, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Index("ix_deployments_deployed", "deployed_at", "id"),
)

deployment_vendors = Table(
    "deployment_vendors",
    metadata,
    Column("deployment_id", Id, ForeignKey("deployments.id"), primary_key=True),
    Column("vendor_id", Id, ForeignKey("vendors.id"), primary_key=True),
    Index("ix_deployment_vendors_vendor_id", "vendor_id"),
)

deployment_work_items = Table(
    "deployment_work_items",
    metadata,
    Column("deployment_id", Id, ForeignKey("deployments.id"), primary_key=True),
    Column("work_item_id", Id, primary_key=True),  # active or archived: see dependencies
    Index("ix_deployment_work_items_work_item_id", "work_item_id"),
)

configuration = Table(
    "configuration",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
    Column("active_context_type", String(20), nullable=False),
    Column("current_session_id", Id, nullable=True),
    Column("git_branch", String(200), nullable=True),
    Column("git_head_commit", String(40), nullable=True),
    Column("default_token_budget", Integer, nullable=False),
    Column("database_healthy", Boolean, nullable=False),
    Column("last_health_check_at", UTCDateTime, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("updated_by", String(100), nullable=False),
    CheckConstraint("id = 1", name="singleton"),
    CheckConstraint(_in("active_context_type", CONTEXT_TYPES), name="active_context_type"),
    CheckConstraint("default_token_budget BETWEEN 1000 AND 1000000", name="token_budget"),
)

enhancements = Table(
    "enhancements",
    metadata,
    Column("id", Id, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("priority", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("target_quarter", String(7), nullable=True),
    Column("requires_constitutional_principles", JsonDoc, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("updated_by", String(100), nullable=False),
    CheckConstraint(_in("status", ENHANCEMENT_STATUSES), name="status"),
    CheckConstraint("priority BETWEEN 1 AND 5", name="priority"),
    CheckConstraint("version >= 1", name="version"),
    Index("ix_enhancements_order", "priority", "target_quarter", "id"),
)

enhancement_dependencies = Table(
    "enhancement_dependencies",
    metadata,
    Column("enhancement_id", Id, ForeignKey("enhancements.id"), primary_key=True),
    Column("depends_on_id", Id, ForeignKey("enhancements.id"), primary_key=True),
    CheckConstraint("enhancement_id <> depends_on_id", name="not_self"),
    Index("ix_enhancement_dependencies_depends_on_id", "depends_on_id"),
)


# Outage support (contract §5). One schema everywhere keeps a single migration chain:
# Postgres uses applied_ops, sync_conflicts and the replica's change feed; the local replica
# file (a migrated SQLite database of this same schema) uses write_queue and replica_*.
SYNC_OUTCOMES = ("applied", "conflict")
QUEUE_STATES = ("pending", "conflict")
RESOLUTIONS = ("discard", "reapply")

write_queue = Table(
    "write_queue",
    metadata,
    Column("seq", ChangeId, primary_key=True, autoincrement=True),
    Column("op_id", String(36), nullable=False),
    Column("tool", String(64), nullable=False),
    Column("args", JsonDoc, nullable=False),
    # of the caller's arguments, so a replay honours request_id like the first call did
    Column("fingerprint", String(64), nullable=False),
    Column("entity", String(20), nullable=False),
    Column("entity_id", String(100), nullable=True),
    Column("base_version", Integer, nullable=True),
    Column("queued_at", UTCDateTime, nullable=False),
    Column("queued_by", String(100), nullable=False),
    # pending, or conflict: kept (not replayed) so later calls on the entity follow it
    Column("state", String(20), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    CheckConstraint(_in("state", QUEUE_STATES), name="state"),
    Index("ix_write_queue_op_id", "op_id", unique=True),
)

applied_ops = Table(
    "applied_ops",
    metadata,
    Column("op_id", String(36), primary_key=True),
    Column("tool", String(64), nullable=False),
    Column("outcome", String(20), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
    CheckConstraint(_in("outcome", SYNC_OUTCOMES), name="outcome"),
)

sync_conflicts = Table(
    "sync_conflicts",
    metadata,
    Column("id", Id, primary_key=True),
    Column("op_id", String(36), nullable=False),
    Column("tool", String(64), nullable=False),
    Column("entity", String(20), nullable=False),
    Column("entity_id", String(100), nullable=True),
    Column("queued_at", UTCDateTime, nullable=False),
    Column("queued_by", String(100), nullable=False),
    Column("attempted_change", JsonDoc, nullable=False),
    Column("base_version", Integer, nullable=True),
    Column("current_version", Integer, nullable=True),
    Column("current", JsonDoc, nullable=True),
    Column("reason", JsonDoc, nullable=False),
    Column("detected_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime, nullable=True),
    Column("resolution", String(20), nullable=True),
    Column("resolved_by", String(100), nullable=True),
    CheckConstraint(f"resolution IS NULL OR {_in('resolution', RESOLUTIONS)}", name="resolution"),
    Index("ix_sync_conflicts_op_id", "op_id", unique=True),
    Index("ix_sync_conflicts_open", "resolved_at", "detected_at"),
)

# The local replica (ADR 0015). On Postgres, triggers (alembic 0006) append the key of every
# row a transaction inserts, updates or deletes in a replicated table, with the transaction's
# id; a refresh reads the changes of every transaction its previous refresh could not see.
replica_changes = Table(
    "replica_changes",
    metadata,
    Column("seq", ChangeId, primary_key=True, autoincrement=True),
    Column("txid", BigInteger, nullable=False),
    Column("table_name", String(40), nullable=False),
    Column("row_key", String(200), nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    Index("ix_replica_changes_txid", "txid"),
)

# Postgres: changes of transactions below ``pruned_below`` are gone (pruned, or a TRUNCATE):
# a replica whose watermark is older must copy everything again.
replica_horizon = Table(
    "replica_horizon",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("pruned_below", BigInteger, nullable=False),
    Column("pruned_at", UTCDateTime, nullable=False),
    CheckConstraint("id = 1", name="singleton"),
)

# The replica file: how far it is brought up to date (one row, written by each refresh).
replica_state = Table(
    "replica_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    # The last refresh's snapshot of the primary (pg_current_snapshot() as text) and its
    # xmin: the next refresh reads the changes of every transaction that snapshot could
    # not see, all of which have an id of at least that xmin.
    Column("watermark", BigInteger, nullable=False),
    Column("snapshot", Text, nullable=False),
    Column("refreshed_at", UTCDateTime, nullable=False),
    Column("copied_at", UTCDateTime, nullable=False),
    # bumped by every queued write: a refresh read before one is not applied after it
    Column("local_writes", Integer, nullable=False),
    # a queued write could not be shown in the status file: rewrite it once possible
    Column("status_file_stale", Boolean, nullable=False),
    CheckConstraint("id = 1", name="singleton"),
)

# The replica file: rows changed by writes queued here, taken again from the primary by
# the first refresh after the queue is replayed.
replica_local = Table(
    "replica_local",
    metadata,
    Column("table_name", String(40), primary_key=True),
    Column("row_key", String(200), primary_key=True),
)


# Archiving (issue 5): finished work items move here whole, so the active table stays small.
# Rows arrive from work_items, already checked, so the archive repeats its columns but not
# its constraints; the parent of an archived item is archived too, or still active.
def _archived(column: Column[Any]) -> Column[Any]:
    return Column(
        column.name, column.type, nullable=column.nullable, primary_key=column.primary_key
    )


work_items_archive = Table(
    "work_items_archive",
    metadata,
    *(_archived(column) for column in work_items.c),
    Column("archived_at", UTCDateTime, nullable=False),
    Index("ix_work_items_archive_parent_id", "parent_id"),
    Index("ix_work_items_archive_path", "path", unique=True),
    Index("ix_work_items_archive_updated", "updated_at", "id"),
)

# Notes (issue 11): append-only remarks on a work item. ``ordinal`` numbers an item's notes
# in the order they were written (1, 2, ...), so their order never depends on a clock. No
# foreign key, as with the links: notes move to the archive with their item.
work_item_notes = Table(
    "work_item_notes",
    metadata,
    Column("id", Id, primary_key=True),
    Column("work_item_id", Id, nullable=False),
    Column("ordinal", Integer, nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(100), nullable=False),
    Index("ix_work_item_notes_item", "work_item_id", "ordinal", unique=True),
)

work_item_notes_archive = Table(
    "work_item_notes_archive",
    metadata,
    *(_archived(column) for column in work_item_notes.c),
    Column("archived_at", UTCDateTime, nullable=False),
    Index("ix_work_item_notes_archive_item", "work_item_id", "ordinal", unique=True),
)

# Background tasks that must run at most once per period across every server process.
maintenance_runs = Table(
    "maintenance_runs",
    metadata,
    Column("task", String(40), primary_key=True),
    Column("last_run_at", UTCDateTime, nullable=False),
    Column("last_result", JsonDoc, nullable=True),
)

# One row per legacy status file imported, by content: a second import of it is refused.
legacy_imports = Table(
    "legacy_imports",
    metadata,
    Column("source_sha256", String(64), primary_key=True),
    Column("source_path", Text, nullable=False),
    Column("imported_at", UTCDateTime, nullable=False),
    Column("imported_by", String(100), nullable=False),
    Column("result", JsonDoc, nullable=False),
)
