from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import git
import pytest
from fastmcp import Client

from worktrack.server import create_server
from worktrack.services import configuration
from worktrack.services.app import App
from worktrack.store import history

from conftest import Backend, Clock
from helpers import SESSION_META, call, fail, task

DEFAULTS = {
    "id": 1,
    "version": 1,
    "active_context_type": "feature",
    "current_session_id": None,
    "git_branch": None,
    "git_head_commit": None,
    "default_token_budget": 200_000,
    "database_healthy": True,
    "last_health_check_at": None,
    "updated_at": None,
    "updated_by": None,
    "git_live": None,
}
COMMIT = "c" * 40


def entity(result: dict[str, Any]) -> dict[str, Any]:
    """A result without its envelope, as error details show it."""
    return {k: v for k, v in result.items() if k not in ("data_source", "warnings", "queued")}


async def changes(app: App) -> list[dict[str, Any]]:
    """The history rows, newest first, as get_history(entity="configuration") reads them."""

    async def read(conn: Any) -> list[dict[str, Any]]:
        entity_id = await configuration.history_id(conn, "1")
        return await history.for_entity(conn, "configuration", entity_id, 50)

    return await app.db.run(read)


async def current(client: Client[Any]) -> dict[str, Any]:
    return entity(await call(client, "get_project_configuration"))


async def session(client: Client[Any], title: str = "S1") -> dict[str, Any]:
    return await call(
        client, "create_work_item", item_type="session", title=title, metadata=SESSION_META
    )


async def test_a_fresh_database_answers_the_defaults_and_stores_nothing(
    client: Client[Any], backend: Backend, app: App
) -> None:
    found = await call(client, "get_project_configuration")
    source = {"sqlite": "sqlite", "postgres": "postgresql"}[backend.name]
    assert (found["data_source"], found["warnings"]) == (source, [])
    assert entity(found) == DEFAULTS  # git_live is null: backend.repo is no repository
    assert await current(client) == DEFAULTS
    assert await changes(app) == []


async def test_the_first_change_stores_the_defaults_as_version_one(
    client: Client[Any], app: App
) -> None:
    updated = await call(
        client,
        "update_project_configuration",
        version=1,
        active_context_type="research",
        updated_by="alice",
    )
    assert updated["version"] == 2 and updated["active_context_type"] == "research"
    assert updated["updated_by"] == "alice" and updated["updated_at"].endswith("+00:00")
    assert updated["default_token_budget"] == 200_000 and updated["database_healthy"] is True
    assert await current(client) == entity(updated)
    second, first = await changes(app)
    assert (second["version"], second["changed_by"]) == (2, "alice")
    assert second["changes"] == {"active_context_type": ["feature", "research"]}
    assert (first["version"], first["changed_by"]) == (1, "alice")
    assert first["changes"] == {
        "active_context_type": [None, "feature"],
        "default_token_budget": [None, 200_000],
        "database_healthy": [None, True],
    }


async def test_fields_are_set_and_cleared_one_version_at_a_time(
    client: Client[Any], app: App
) -> None:
    chosen = await session(client)
    changed = await call(
        client,
        "update_project_configuration",
        version=1,
        current_session_id=chosen["id"][:8].upper(),
        git_branch="feature/vendors",
        git_head_commit=COMMIT,
        default_token_budget=1000,
    )
    assert changed["version"] == 2
    assert changed["current_session_id"] == chosen["id"]  # the prefix resolved
    assert (changed["git_branch"], changed["git_head_commit"]) == ("feature/vendors", COMMIT)
    assert changed["default_token_budget"] == 1000
    top = await call(client, "update_project_configuration", version=2, default_token_budget=10**6)
    assert top["version"] == 3 and top["default_token_budget"] == 1_000_000
    cleared = await call(
        client,
        "update_project_configuration",
        version=3,
        current_session_id="",
        git_branch="",
        git_head_commit="",
    )
    assert cleared["version"] == 4
    assert (cleared["current_session_id"], cleared["git_branch"], cleared["git_head_commit"]) == (
        None,
        None,
        None,
    )
    assert [row["version"] for row in await changes(app)] == [4, 3, 2, 1]
    assert (await changes(app))[0]["changes"] == {
        "current_session_id": [chosen["id"], None],
        "git_branch": ["feature/vendors", None],
        "git_head_commit": [COMMIT, None],
    }


async def test_an_update_that_changes_nothing_keeps_the_version(
    client: Client[Any], app: App
) -> None:
    same = await call(
        client, "update_project_configuration", version=1, active_context_type="feature"
    )
    assert entity(same) == DEFAULTS  # nothing stored for a change that changes nothing
    assert await changes(app) == []
    changed = await call(client, "update_project_configuration", version=1, git_branch="main")
    again = await call(
        client, "update_project_configuration", version=2, git_branch="main", git_head_commit=""
    )
    assert again["version"] == 2 and again["updated_at"] == changed["updated_at"]
    assert [row["version"] for row in await changes(app)] == [2, 1]


BAD_UPDATES = [
    ({}, "active_context_type"),
    ({"active_context_type": "sprint"}, "active_context_type"),
    ({"default_token_budget": 999}, "default_token_budget"),
    ({"default_token_budget": 1_000_001}, "default_token_budget"),
    ({"default_token_budget": "5000"}, "default_token_budget"),
    ({"git_head_commit": "C" * 40}, "git_head_commit"),
    ({"git_head_commit": "c" * 39}, "git_head_commit"),
    ({"git_branch": "b" * 201}, "git_branch"),
    ({"git_branch": "two\nlines"}, "git_branch"),
    ({"git_branch": "bell\x07"}, "git_branch"),
    ({"current_session_id": "not-an-id"}, "current_session_id"),
    ({"version": 0, "git_branch": "main"}, "version"),
    ({"database_healthy": False}, "database_healthy"),
]


@pytest.mark.parametrize(("change", "field"), BAD_UPDATES)
async def test_update_rejects_bad_input(
    client: Client[Any], app: App, change: dict[str, Any], field: str
) -> None:
    arguments = {"version": 1} | change
    error = await fail(client, "update_project_configuration", **arguments)
    assert error["error"] == "ValidationError"
    assert error["details"]["field"] == field
    assert await current(client) == DEFAULTS
    assert await changes(app) == []


async def test_the_current_session_must_be_a_live_session(client: Client[Any]) -> None:
    stored = entity(await call(client, "update_project_configuration", version=1, git_branch="x"))
    missing = await fail(
        client, "update_project_configuration", version=2, current_session_id="deadbeef"
    )
    assert missing["error"] == "NotFoundError" and missing["details"]["id"] == "deadbeef"
    not_session = await task(client, "a task")
    wrong = await fail(
        client, "update_project_configuration", version=2, current_session_id=not_session["id"]
    )
    assert wrong["error"] == "ValidationError"
    assert wrong["details"]["field"] == "current_session_id"
    assert "task" in wrong["details"]["constraint"]
    gone = await session(client)
    await call(client, "update_work_item", id=gone["id"], version=1, deleted=True)
    deleted = await fail(
        client, "update_project_configuration", version=2, current_session_id=gone["id"]
    )
    assert deleted["details"]["field"] == "current_session_id"
    assert "deleted" in deleted["details"]["constraint"]
    assert await current(client) == stored


@pytest.mark.parametrize(
    "change",
    [
        {"active_context_type": "research"},
        {"current_session_id": "SESSION"},
        {"git_branch": "other"},
        {"git_head_commit": COMMIT},
        {"default_token_budget": 5000},
        {"active_context_type": "maintenance"},  # a no-op at version 2 is still stale at 1
    ],
)
async def test_every_update_rejects_a_stale_version(
    client: Client[Any], app: App, change: dict[str, Any]
) -> None:
    if change.get("current_session_id") == "SESSION":
        change = {"current_session_id": (await session(client))["id"]}
    stored = await call(
        client,
        "update_project_configuration",
        version=1,
        active_context_type="maintenance",
        updated_by="alice",
    )
    error = await fail(client, "update_project_configuration", version=1, **change)
    assert error["error"] == "VersionConflictError"
    details = error["details"]
    assert (details["expected_version"], details["current_version"]) == (1, 2)
    assert details["last_updated_by"] == "alice"
    assert details["current"] == {**entity(stored), "git_live": None}
    assert await current(client) == entity(stored)
    assert [row["version"] for row in await changes(app)] == [2, 1]


async def test_a_stale_version_on_a_fresh_database_stores_nothing(
    client: Client[Any], app: App
) -> None:
    error = await fail(client, "update_project_configuration", version=2, git_branch="main")
    assert error["error"] == "VersionConflictError"
    details = error["details"]
    assert (details["expected_version"], details["current_version"]) == (2, 1)
    assert details["last_updated_by"] is None and details["current"] == DEFAULTS
    assert await current(client) == DEFAULTS
    assert await changes(app) == []


async def test_repeated_request_id_returns_the_first_result(client: Client[Any], app: App) -> None:
    first = await call(
        client, "update_project_configuration", version=1, git_branch="main", request_id="c-1"
    )
    again = await call(
        client, "update_project_configuration", version=1, git_branch="main", request_id="c-1"
    )
    assert again == first and again["version"] == 2
    assert [row["version"] for row in await changes(app)] == [2, 1]  # applied once
    reused = await fail(
        client, "update_project_configuration", version=2, git_branch="dev", request_id="c-1"
    )
    assert reused["details"]["field"] == "request_id"


def _dirty_repository(path: Path) -> git.Repo:
    repo = git.Repo.init(path)
    (path / "README.md").write_text("first\n")
    repo.index.add(["README.md"])
    repo.index.commit("first commit")
    (path / "README.md").write_text("changed\n")
    return repo


async def test_git_live_reads_the_repository_on_every_call(
    backend: Backend, clock: Clock, tmp_path: Path
) -> None:
    path = tmp_path / "project"
    path.mkdir()
    repo = _dirty_repository(path)
    try:
        branch, head = repo.active_branch.name, repo.head.commit.hexsha
        async with Client(create_server(backend.settings(repo=path), clock=clock)) as client:
            found = await call(client, "get_project_configuration")
            assert found["git_live"] == {"branch": branch, "head_commit": head, "dirty": True}
            updated = await call(client, "update_project_configuration", version=1, git_branch="x")
            assert updated["git_live"]["dirty"] is True
            repo.git.checkout("--", "README.md")
            clean = await call(client, "get_project_configuration")
            assert clean["git_live"] == {"branch": branch, "head_commit": head, "dirty": False}
            assert clean["git_branch"] == "x"  # the stored branch is the caller's, not git's
    finally:
        repo.close()


@pytest.mark.postgres
async def test_racing_first_updates_store_the_defaults_once(pg_backend: Backend) -> None:
    async def update(branch: str) -> Any:
        async with Client(create_server(pg_backend.settings())) as client:
            return await client.call_tool(
                "update_project_configuration",
                {"version": 1, "git_branch": branch},
                raise_on_error=False,
            )

    results = await asyncio.gather(update("one"), update("two"))
    assert sorted(result.is_error for result in results) == [False, True]
    refused = next(result for result in results if result.is_error)
    error = json.loads(refused.content[0].text)  # type: ignore[union-attr]
    assert error["error"] == "VersionConflictError"
    async with Client(create_server(pg_backend.settings())) as client:
        stored = await current(client)
    assert stored["version"] == 2 and stored["git_branch"] in ("one", "two")
    assert error["details"]["current"] == stored
