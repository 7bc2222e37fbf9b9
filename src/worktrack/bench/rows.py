"""Table rows for the synthetic project, exactly as the create services would store them.

Each builder validates and derives what the service does (metadata checked by type,
path, depth, search text, the version-1 change-log row) with the same functions, so a
bulk insert of these rows leaves the database as the equivalent tool calls would.
``tests/bench/test_rows.py`` holds them to that against the services themselves.
"""

from __future__ import annotations

from typing import Any

from worktrack.bench.project import ACTOR, Deployment, Enhancement, Item, Link, Vendor
from worktrack.hierarchy import child_path, depth_of
from worktrack.models.deployments import checked_metadata as deployment_metadata
from worktrack.models.vendors import parse_metadata, stored_metadata
from worktrack.models.work_items import checked_metadata
from worktrack.services.common import created
from worktrack.store.history import change_row
from worktrack.store.vendors import name_key
from worktrack.text import item_search_text

Row = dict[str, Any]


def work_item(item: Item, parent_path: str | None, actor: str = ACTOR) -> tuple[Row, Row]:
    """The work_items row and its change_log row; ``parent_path`` is the parent's path."""
    path = child_path(parent_path, item.id)
    metadata = checked_metadata(item.item_type, item.metadata)
    fields: Row = {
        "item_type": item.item_type,
        "title": item.title,
        "description": item.description,
        "acceptance_criteria": None,
        "labels": [],
        "status": item.status,
        "priority": item.priority,
        "parent_id": item.parent.id if item.parent else None,
        "path": path,
        "depth": depth_of(path),
        "branch_name": item.branch_name or None,
        "commit_hash": item.commit_hash or None,
        "pr_number": item.pr_number,
        "metadata": metadata,
    }
    row = fields | {
        "id": item.id,
        "version": 1,
        "search_text": item_search_text(item.title, item.description, None, metadata),
        "claimed_by": None,
        "claim_expires_at": None,
        "deleted_at": None,
        "created_at": item.at,
        "updated_at": item.at,
        "created_by": actor,
        "updated_by": actor,
    }
    return row, change_row("work_item", item.id, 1, item.at, actor, created(fields))


def dependency(link: Link, actor: str = ACTOR) -> Row:
    return {
        "source_id": link.source_id,
        "target_id": link.target_id,
        "dependency_type": link.dependency_type,
        "created_at": link.at,
        "created_by": actor,
    }


def vendor(spec: Vendor, actor: str = ACTOR) -> tuple[Row, Row]:
    fields = {
        "name": spec.name,
        "status": spec.status,
        "extractor_version": spec.extractor_version,
        "metadata": stored_metadata(parse_metadata(spec.metadata), spec.extractor_version),
    }
    row = fields | {
        "id": spec.id,
        "version": 1,
        "name_key": name_key(spec.name),
        "created_at": spec.at,
        "updated_at": spec.at,
        "created_by": actor,
        "updated_by": actor,
    }
    return row, change_row("vendor", spec.id, 1, spec.at, actor, created(fields))


def deployment(spec: Deployment, actor: str = ACTOR) -> tuple[Row, list[Row], list[Row]]:
    """The deployments row and its vendor and work-item link rows (deployments keep no
    change log: they are never updated)."""
    checked = deployment_metadata(spec.metadata)
    row = {
        "id": spec.id,
        "deployed_at": spec.deployed_at,
        "commit_hash": spec.commit_hash,
        "metadata": checked.model_dump(mode="json") | {"commit_hash": spec.commit_hash},
        "created_at": spec.deployed_at,
        "created_by": actor,
    }
    vendors = [{"deployment_id": spec.id, "vendor_id": v} for v in spec.vendor_ids]
    items = [{"deployment_id": spec.id, "work_item_id": w} for w in spec.work_item_ids]
    return row, vendors, items


def enhancement(spec: Enhancement, actor: str = ACTOR) -> tuple[Row, list[Row], Row]:
    """The enhancements row, its dependency rows and its change_log row."""
    fields = {
        "title": spec.title,
        "description": spec.description or None,
        "priority": spec.priority,
        "status": spec.status,
        "target_quarter": spec.target_quarter or None,
        "requires_constitutional_principles": list(spec.requires_constitutional_principles),
    }
    row = fields | {
        "id": spec.id,
        "version": 1,
        "created_at": spec.at,
        "updated_at": spec.at,
        "created_by": actor,
        "updated_by": actor,
    }
    needs = sorted(spec.depends_on_ids)
    links = [{"enhancement_id": spec.id, "depends_on_id": d} for d in needs]
    changes = created(fields | {"depends_on_ids": needs})
    return row, links, change_row("enhancement", spec.id, 1, spec.at, actor, changes)
