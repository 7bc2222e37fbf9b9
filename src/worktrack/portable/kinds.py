"""What an export holds: every table is either exported, under a ``kind`` name, or kept
local to the database it lives in, with the reason. ``tests/portable/test_kinds.py``
holds every table of the schema to exactly one of the two lists, so a new table forces
the decision.

Kinds come in this order, each table's rows ordered by its primary key, except the work
item trees, ordered by path: a row always comes after the rows it refers to (a parent
before its children, a vendor before the deployments naming it), so an import can load the
lines in the order they come.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Column, Table

from worktrack.tables import (
    change_log,
    configuration,
    dependencies,
    deployment_vendors,
    deployment_work_items,
    deployments,
    enhancement_dependencies,
    enhancements,
    legacy_imports,
    vendors,
    work_item_notes,
    work_item_notes_archive,
    work_items,
    work_items_archive,
)


@dataclass(frozen=True)
class Kind:
    name: str  # the "kind" of its lines
    table: Table
    # Columns that order its lines (unique together); empty: the primary key.
    order_by: tuple[str, ...] = ()

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """Every column, as stored: derived ones (search text, casefolded names) too."""
        return tuple(column.name for column in self.table.c)

    @property
    def ordering(self) -> list[Column[object]]:
        names = self.order_by or tuple(column.name for column in self.table.primary_key)
        return [self.table.c[name] for name in names]

    @cached_property
    def key(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.table.primary_key)


EXPORTED: tuple[Kind, ...] = (
    Kind("configuration", configuration),
    Kind("vendor", vendors),
    Kind("work_item", work_items, ("path",)),
    Kind("work_item_archive", work_items_archive, ("path",)),
    Kind("dependency", dependencies),
    Kind("note", work_item_notes, ("work_item_id", "ordinal")),
    Kind("note_archive", work_item_notes_archive, ("work_item_id", "ordinal")),
    Kind("deployment", deployments),
    Kind("deployment_vendor", deployment_vendors),
    Kind("deployment_work_item", deployment_work_items),
    Kind("enhancement", enhancements),
    Kind("enhancement_dependency", enhancement_dependencies),
    Kind("history", change_log),
    # Which legacy status files were imported: importing one again stays refused.
    Kind("legacy_import", legacy_imports),
)
BY_NAME = {kind.name: kind for kind in EXPORTED}

# Tables of one database's own operation, meaningless in another: never exported, and an
# import leaves them as they are.
LOCAL_ONLY: dict[str, str] = {
    "idempotency_keys": "request_id retry keys: a retry comes within minutes, to one database",
    "write_queue": "writes this machine queued during an outage, for its own primary",
    "applied_ops": "which queued writes this primary applied, so a replay applies each once",
    "sync_conflicts": "queued writes this primary refused; resolved against it, not a copy",
    "replica_changes": "the primary's change feed for its local replicas, by transaction id",
    "replica_horizon": "how far back the primary's change feed still reaches",
    "replica_state": "how far this machine's replica has followed its primary",
    "replica_local": "replica rows changed by writes queued on this machine",
    "maintenance_runs": "when this database last ran its daily tasks",
}
