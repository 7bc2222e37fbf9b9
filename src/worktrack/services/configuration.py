"""The project configuration: one row, answered with defaults until first changed.

Reads never write: the row is created by the first update that changes something, with
the defaults as its version 1. Every answer carries ``git_live``, read from the repository
after the transaction, so no database transaction (or SQLite write lock) waits on git.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import gitrepo
from worktrack.errors import ValidationError
from worktrack.models.configuration import Configuration, GitLive
from worktrack.services.app import App, Service, reads, writes
from worktrack.services.common import created, diff
from worktrack.services.common import version_conflict as _conflict
from worktrack.services.work_items import load as load_work_item
from worktrack.store import configuration as store
from worktrack.store import history
from worktrack.store.history import change_row

P = ParamSpec("P")
ENTITY = "configuration"
ENTITY_ID = "1"
DEFAULTS = Configuration()
TRACKED = (
    "active_context_type",
    "current_session_id",
    "git_branch",
    "git_head_commit",
    "default_token_budget",
)
_CLEARABLE = ("current_session_id", "git_branch", "git_head_commit")


async def history_id(conn: AsyncConnection, ref: str) -> str:
    """There is one configuration, whatever ``ref`` says."""
    return ENTITY_ID


async def _git_live(repo: Path) -> GitLive | None:
    state = await gitrepo.state(repo)
    if state is None:
        return None
    return GitLive(branch=state.branch, head_commit=state.head_commit, dirty=state.dirty)


def _with_git_live(service: Service[P, Configuration]) -> Service[P, Configuration]:
    @functools.wraps(service)
    async def run(app: App, /, *args: P.args, **kwargs: P.kwargs) -> Configuration:
        found = await service(app, *args, **kwargs)
        return found.model_copy(update={"git_live": await _git_live(app.settings.repo)})

    return run


@_with_git_live
@reads
async def get_project_configuration(app: App, conn: AsyncConnection) -> Configuration:
    return await store.fetch(conn) or DEFAULTS


@_with_git_live
@writes("update_project_configuration", Configuration, entity=ENTITY)
async def update_project_configuration(
    app: App,
    conn: AsyncConnection,
    *,
    version: int,
    active_context_type: str | None = None,
    current_session_id: str | None = None,
    git_branch: str | None = None,
    git_head_commit: str | None = None,
    default_token_budget: int | None = None,
    updated_by: str | None = None,
    request_id: str | None = None,
) -> Configuration:
    given = {
        "active_context_type": active_context_type,
        "current_session_id": current_session_id,
        "git_branch": git_branch,
        "git_head_commit": git_head_commit,
        "default_token_budget": default_token_budget,
    }
    if all(value is None for value in given.values()):
        raise ValidationError("active_context_type", f"give at least one of {', '.join(TRACKED)}")
    row = await store.fetch(conn)
    current = row or DEFAULTS
    if current.version != version:
        raise _conflict(ENTITY, version, current)
    after = await _edits(conn, given)
    changes = diff({name: getattr(current, name) for name in TRACKED}, after)
    if not changes:
        return current
    now, actor = app.clock(), app.who(updated_by)
    if row is None:
        await _store_defaults(conn, now, actor)
    values = {name: after[name] for name in changes} | {"updated_at": now, "updated_by": actor}
    updated = await store.update_if_version(conn, version, values)
    if updated is None:
        raise _conflict(ENTITY, version, await store.fetch(conn) or DEFAULTS)
    await history.append(
        conn, [change_row(ENTITY, ENTITY_ID, updated.version, now, actor, changes)]
    )
    return updated


async def _edits(conn: AsyncConnection, given: dict[str, Any]) -> dict[str, Any]:
    """The new values of the fields given ("" clears a field)."""
    edits = {name: value for name, value in given.items() if value is not None}
    for name in _CLEARABLE:
        if edits.get(name) == "":
            edits[name] = None
    if edits.get("current_session_id"):
        edits["current_session_id"] = await _session_id(conn, edits["current_session_id"])
    return edits


async def _session_id(conn: AsyncConnection, ref: str) -> str:
    item = await load_work_item(conn, ref)
    if item.item_type != "session":
        raise ValidationError(
            "current_session_id", f"work item {item.id} is a {item.item_type}, not a session"
        )
    if item.deleted_at is not None:
        raise ValidationError("current_session_id", f"session {item.id} is deleted")
    return item.id


async def _store_defaults(conn: AsyncConnection, now: datetime, actor: str) -> None:
    """Store the defaults as version 1, unless a concurrent call just did."""
    defaults = {name: getattr(DEFAULTS, name) for name in store.COLUMNS}
    if await store.insert_if_missing(conn, defaults | {"updated_at": now, "updated_by": actor}):
        first = {name: defaults[name] for name in (*TRACKED, "database_healthy")}
        await history.append(conn, [change_row(ENTITY, ENTITY_ID, 1, now, actor, created(first))])
