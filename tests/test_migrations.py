"""Migrations: from empty to head and back on both databases, with no drift from the models."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    MetaData,
    String,
    Table,
    column,
    delete,
    insert,
    inspect,
    select,
)
from sqlalchemy.engine import make_url

from worktrack.db import create_engine
from worktrack.migrations import alembic_config, head_revision
from worktrack.tables import UTCDateTime, metadata

from conftest import ADMIN_URL, _admin


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"worktrack_migrate_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _inspect(url: str, fn: Any) -> Any:
    async def run() -> Any:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(fn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _drift(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), metadata))


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


def test_upgrade_from_empty_matches_the_models_and_downgrades_to_base(empty_url: str) -> None:
    config = alembic_config(empty_url)
    command.upgrade(config, "head")
    assert _inspect(empty_url, _drift) == []
    assert _inspect(empty_url, _tables) == set(metadata.tables)
    command.downgrade(config, "base")
    assert _inspect(empty_url, _tables) == set()


def test_every_migration_steps_down_and_up_again(empty_url: str) -> None:
    config = alembic_config(empty_url)
    revisions = list(ScriptDirectory.from_config(config).walk_revisions("base", "heads"))
    assert revisions[0].revision == head_revision()
    command.upgrade(config, "head")
    for _ in revisions:
        command.downgrade(config, "-1")
    assert _inspect(empty_url, _tables) == set()
    for script in reversed(revisions):
        command.upgrade(config, script.revision)
    assert _inspect(empty_url, _drift) == []


AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
PARENT, CHILD = "10000000-0000-4000-8000-000000000001", "10000000-0000-4000-8000-000000000002"
VENDOR, DEPLOYMENT = "20000000-0000-4000-8000-000000000001", "30000000-0000-4000-8000-000000000001"
FIRST, SECOND = "40000000-0000-4000-8000-000000000001", "40000000-0000-4000-8000-000000000002"


def _item(item_id: str, parent: str | None, status: str) -> dict[str, Any]:
    path = f"/{PARENT}" if parent is None else f"/{PARENT}/{item_id}"
    return {
        "id": item_id,
        "version": 3,
        "item_type": "project" if parent is None else "task",
        "title": f"item {item_id[-1]}",
        "status": status,
        "priority": 1,
        "parent_id": parent,
        "path": path,
        "depth": path.count("/") - 1,
        "branch_name": "feature/x",
        "commit_hash": "c" * 40,
        "pr_number": 7,
        "metadata": {"description": "kept"} if parent is None else {"estimated_hours": 2},
        "search_text": "item",
        "claimed_by": None,
        "claim_expires_at": None,
        "deleted_at": None,
        "created_at": AT,
        "updated_at": AT,
        "created_by": "alice",
        "updated_by": "bob",
    }


def _audit() -> dict[str, Any]:
    return {"created_at": AT, "updated_at": AT, "created_by": "alice", "updated_by": "bob"}


# The rows each revision's new tables get, inserted right after upgrading to it.
ROWS: dict[str, dict[str, list[dict[str, Any]]]] = {
    "0001": {
        "work_items": [_item(PARENT, None, "active"), _item(CHILD, PARENT, "completed")],
        "work_item_dependencies": [
            {
                "source_id": CHILD,
                "target_id": PARENT,
                "dependency_type": "depends_on",
                "created_at": AT,
                "created_by": "alice",
            }
        ],
        "change_log": [
            {
                "id": 1,
                "entity": "work_item",
                "entity_id": CHILD,
                "version": 1,
                "changed_at": AT,
                "changed_by": "alice",
                "changes": {"title": [None, "item 2"]},
            }
        ],
        "idempotency_keys": [
            {
                "request_id": "r-1",
                "tool": "create_work_item",
                "fingerprint": "f" * 64,
                "result": {"id": CHILD},
                "created_at": AT,
            }
        ],
    },
    "0002": {
        "vendors": [
            {
                "id": VENDOR,
                "version": 2,
                "name": "Acme",
                "name_key": "acme",
                "status": "operational",
                "extractor_version": "1.2.3",
                "metadata": {"test_results": {"passing": 1, "total": 2, "skipped": 0}},
                **_audit(),
            }
        ],
        "deployments": [
            {
                "id": DEPLOYMENT,
                "deployed_at": AT,
                "commit_hash": "d" * 40,
                "metadata": {"pr_number": 9},
                "created_at": AT,
                "created_by": "alice",
            }
        ],
        "deployment_vendors": [{"deployment_id": DEPLOYMENT, "vendor_id": VENDOR}],
        "deployment_work_items": [{"deployment_id": DEPLOYMENT, "work_item_id": CHILD}],
        "configuration": [
            {
                "id": 1,
                "version": 4,
                "active_context_type": "research",
                "current_session_id": None,
                "git_branch": "main",
                "git_head_commit": "e" * 40,
                "default_token_budget": 5000,
                "database_healthy": True,
                "last_health_check_at": AT,
                "updated_at": AT,
                "updated_by": "bob",
            }
        ],
        "enhancements": [
            {
                "id": enhancement_id,
                "version": 1,
                "title": "better",
                "description": None,
                "priority": 2,
                "status": "planned",
                "target_quarter": "2027-Q1",
                "requires_constitutional_principles": ["small"],
                **_audit(),
            }
            for enhancement_id in (FIRST, SECOND)
        ],
        "enhancement_dependencies": [{"enhancement_id": SECOND, "depends_on_id": FIRST}],
    },
    "0003": {
        "write_queue": [
            {
                "seq": 1,
                "op_id": "op-1",
                "tool": "update_work_item",
                "args": {"id": CHILD},
                "fingerprint": "e" * 64,
                "entity": "work_item",
                "entity_id": CHILD,
                "base_version": 3,
                "queued_at": AT,
                "queued_by": "alice",
                "state": "pending",
                "attempts": 0,
                "last_error": None,
            }
        ],
        "applied_ops": [
            {"op_id": "op-0", "tool": "create_vendor", "outcome": "applied", "applied_at": AT}
        ],
        "sync_conflicts": [
            {
                "id": "50000000-0000-4000-8000-000000000001",
                "op_id": "op-2",
                "tool": "update_vendor_status",
                "entity": "vendor",
                "entity_id": VENDOR,
                "queued_at": AT,
                "queued_by": "alice",
                "attempted_change": {"status": "broken"},
                "base_version": 1,
                "current_version": 2,
                "current": {"version": 2},
                "reason": {"error": "VersionConflictError"},
                "detected_at": AT,
                "resolved_at": None,
                "resolution": None,
                "resolved_by": None,
            }
        ],
        "cache_entries": [
            {"table_name": "work_items", "row_key": CHILD, "cached_at": AT, "local": False}
        ],
    },
}


# Models of the tables a later revision drops, as they were.
_GONE = MetaData()
Table(
    "cache_entries",
    _GONE,
    Column("table_name", String(40), primary_key=True),
    Column("row_key", String(200), primary_key=True),
    Column("cached_at", UTCDateTime, nullable=False),
    Column("local", Boolean, nullable=False),
)


def _table(name: str) -> Table:
    found = metadata.tables.get(name)
    return _GONE.tables[name] if found is None else found


def _insert(url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    def run(conn: Connection) -> None:
        for table, values in rows.items():
            conn.execute(insert(_table(table)), values)
        conn.commit()

    _inspect(url, run)


def _stored(url: str, tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The rows of these tables, in the columns the revision the test inserted them at had."""

    def run(conn: Connection) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        for name in tables:
            table = _table(name)
            present = {column["name"] for column in inspect(conn).get_columns(name)}
            columns = [column for column in table.c if column.name in present]
            ordered = select(*columns).order_by(*table.primary_key.columns)
            found[name] = [dict(row._mapping) for row in conn.execute(ordered)]
        return found

    stored: dict[str, list[dict[str, Any]]] = _inspect(url, run)
    return stored


# Tables a revision drops: their rows go with them.
DROPPED = {"0006": ("cache_entries",)}


def test_an_existing_database_keeps_its_rows_across_every_migration(empty_url: str) -> None:
    config = alembic_config(empty_url)
    expected: dict[str, list[dict[str, Any]]] = {}
    for revision in [*ROWS, "0004", "0006"]:
        command.upgrade(config, revision)
        expected = {k: v for k, v in expected.items() if k not in DROPPED.get(revision, ())}
        assert _stored(empty_url, list(expected)) == expected, f"rows lost upgrading to {revision}"
        _insert(empty_url, ROWS.get(revision, {}))
        expected |= ROWS.get(revision, {})
    assert _stored(empty_url, list(expected)) == expected


def test_downgrading_the_archive_brings_archived_items_back_with_their_links(
    empty_url: str,
) -> None:
    config = alembic_config(empty_url)
    command.upgrade(config, "0003")
    every_row = {name: rows for revision in ROWS.values() for name, rows in revision.items()}
    _insert(empty_url, every_row)
    command.upgrade(config, "0004")

    def archive_the_child(conn: Connection) -> None:
        child = ROWS["0001"]["work_items"][1]
        conn.execute(insert(metadata.tables["work_items_archive"]), [child | {"archived_at": AT}])
        conn.execute(delete(metadata.tables["work_items"]).where(column("id") == CHILD))
        conn.commit()

    _inspect(empty_url, archive_the_child)
    links = ["work_item_dependencies", "deployment_work_items"]
    kept = {name: every_row[name] for name in links}
    assert _stored(empty_url, links) == kept  # no foreign key took the links with the item
    command.downgrade(config, "0003")
    assert _stored(empty_url, [*links, "work_items"]) == kept | {
        "work_items": every_row["work_items"]
    }
    foreign_keys = _inspect(
        empty_url, lambda conn: inspect(conn).get_foreign_keys("work_item_dependencies")
    )
    assert {fk["referred_table"] for fk in foreign_keys} == {"work_items"}


def test_the_alembic_command_upgrades_and_downgrades_from_the_repository_root(
    empty_url: str,
) -> None:
    root = Path(__file__).resolve().parents[1]
    alembic = Path(sys.executable).parent / "alembic"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("WORKTRACK_", "DATABASE_URL"))
    } | {"WORKTRACK_DATABASE_URL": empty_url}
    for step in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"]):
        done = subprocess.run(
            [str(alembic), *step], cwd=root, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
    assert _inspect(empty_url, _drift) == []
    assert _inspect(empty_url, _tables) == set(metadata.tables)


# Migration 0007: a project's description leaves its metadata; six statuses.
OLD_PROJECT, ARCHIVED_PROJECT = PARENT, "10000000-0000-4000-8000-000000000009"
NEW_STATUS_IDS = {
    status: f"60000000-0000-4000-8000-00000000000{n}"
    for n, status in enumerate(("in_progress", "deferred", "cancelled"), start=1)
}


def _columns(url: str, table: str, ids: list[str], names: tuple[str, ...]) -> dict[str, Any]:
    """``{id: (column values...)}`` of these rows, as stored."""

    def run(conn: Connection) -> dict[str, Any]:
        stored = _table(table)
        query = select(stored.c.id, *(stored.c[name] for name in names)).where(stored.c.id.in_(ids))
        return {row[0]: tuple(row[1:]) for row in conn.execute(query)}

    found: dict[str, Any] = _inspect(url, run)
    return found


def _old_project(item_id: str, description: str) -> dict[str, Any]:
    path = f"/{item_id}"
    return _item(PARENT, None, "active") | {
        "id": item_id,
        "path": path,
        "metadata": {"description": description, "target_quarter": "2027-Q1"},
    }


def test_0007_moves_a_projects_description_out_of_metadata_and_back(empty_url: str) -> None:
    config = alembic_config(empty_url)
    command.upgrade(config, "0006")
    long_text = "é" * 1500
    _insert(
        empty_url,
        {
            "work_items": [
                _old_project(OLD_PROJECT, "kept"),
                _item(CHILD, PARENT, "completed"),
            ],
            "work_items_archive": [
                _old_project(ARCHIVED_PROJECT, "archived words") | {"archived_at": AT}
            ],
        },
    )
    command.upgrade(config, "0007")
    names = ("description", "metadata", "labels", "acceptance_criteria", "status")
    assert _columns(empty_url, "work_items", [OLD_PROJECT, CHILD], names) == {
        OLD_PROJECT: ("kept", {"target_quarter": "2027-Q1"}, [], None, "active"),
        CHILD: (None, {"estimated_hours": 2}, [], None, "completed"),
    }
    assert _columns(empty_url, "work_items_archive", [ARCHIVED_PROJECT], names) == {
        ARCHIVED_PROJECT: ("archived words", {"target_quarter": "2027-Q1"}, [], None, "active")
    }

    def new_values(conn: Connection) -> None:
        items = metadata.tables["work_items"]
        conn.execute(
            items.update()
            .where(items.c.id == OLD_PROJECT)
            .values(description=long_text, labels=["a"])
        )
        conn.execute(
            insert(items),
            [
                _item(item_id, PARENT, status) | {"labels": ["x"], "acceptance_criteria": "ok"}
                for status, item_id in NEW_STATUS_IDS.items()
            ],
        )
        conn.commit()

    _inspect(empty_url, new_values)
    command.downgrade(config, "0006")
    ids = [OLD_PROJECT, CHILD, *NEW_STATUS_IDS.values()]
    down = _columns(empty_url, "work_items", ids, ("metadata", "status"))
    # The old schema capped a project's metadata.description at 1,000 characters.
    assert down[OLD_PROJECT] == (
        {"description": long_text[:1000], "target_quarter": "2027-Q1"},
        "active",
    )
    assert down[CHILD] == ({"estimated_hours": 2}, "completed")
    assert down[NEW_STATUS_IDS["in_progress"]][1] == "active"
    assert down[NEW_STATUS_IDS["deferred"]][1] == "blocked"
    assert down[NEW_STATUS_IDS["cancelled"]][1] == "completed"
    assert _columns(empty_url, "work_items_archive", [ARCHIVED_PROJECT], ("metadata",)) == {
        ARCHIVED_PROJECT: ({"description": "archived words", "target_quarter": "2027-Q1"},)
    }
    command.upgrade(config, "head")
    again = _columns(empty_url, "work_items", [OLD_PROJECT], ("description", "metadata"))
    assert again == {OLD_PROJECT: (long_text[:1000], {"target_quarter": "2027-Q1"})}
    assert _inspect(empty_url, _drift) == []
