"""``worktrack doctor``: can this setup serve, and if not, what to fix.

Each check looks at one thing (configuration, repository, state folder, database,
schema, status file) and answers ok, warn (works, but worth knowing) or fail (the server
will not work this way), with the fix. It writes nothing: a missing SQLite file or state
folder is reported as what the first start will create.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

from worktrack import gitrepo, migrations, paths
from worktrack.db import create_engine
from worktrack.errors import ValidationError
from worktrack.report import files
from worktrack.report.parse import parse
from worktrack.settings import MIN_HTTP_TOKEN_LENGTH, Settings, shown_url

Verdict = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    name: str
    verdict: Verdict
    detail: str
    fix: str = ""


async def run(settings: Settings) -> list[Check]:
    return [
        configuration(settings),
        await repository(settings),
        state_folder(settings),
        *await database(settings),
        await status_file(settings),
    ]


def configuration(settings: Settings) -> Check:
    url = shown_url(settings.effective_database_url)
    detail = f"database {url}; toolsets {','.join(settings.toolsets)}"
    detail += "; read-only" if settings.read_only else ""
    token = settings.http_token
    if token is not None and len(token.get_secret_value()) < MIN_HTTP_TOKEN_LENGTH:
        return Check(
            "configuration",
            "warn",
            f"{detail}; WORKTRACK_HTTP_TOKEN is shorter than {MIN_HTTP_TOKEN_LENGTH} characters",
            "use a random one: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'",
        )
    return Check("configuration", "ok", detail)


async def repository(settings: Settings) -> Check:
    repo = settings.repo.resolve()
    if not repo.is_dir():
        return Check(
            "repository",
            "fail",
            f"{repo} is not a directory",
            "set WORKTRACK_REPO to the repository",
        )
    state = await gitrepo.state(repo)
    if state is None:
        return Check(
            "repository",
            "warn",
            f"{repo} is not a git repository with commits: no live branch/HEAD in "
            "get_project_configuration, and record_deployment needs commit_hash",
            "point WORKTRACK_REPO at the git checkout worktrack tracks",
        )
    branch = state.branch or "detached HEAD"
    return Check("repository", "ok", f"{repo} on {branch} at {state.head_commit[:7]}")


def _creatable(folder: Path) -> Path | None:
    """The nearest existing ancestor of ``folder`` if it is writable, else None."""
    existing = folder
    while not existing.exists():
        existing = existing.parent
    return existing if existing.is_dir() and os.access(existing, os.W_OK | os.X_OK) else None


def state_folder(settings: Settings) -> Check:
    try:
        home = paths.state_folder(settings)
    except ValidationError as refused:
        return Check("state folder", "fail", refused.constraint, "remove the link")
    if home.is_dir() and os.access(home, os.W_OK | os.X_OK):
        return Check("state folder", "ok", f"{home}")
    if not home.exists() and _creatable(home) is not None:
        return Check("state folder", "ok", f"{home} (created on first start)")
    return Check(
        "state folder",
        "fail",
        f"{home} is not a writable folder",
        "set WORKTRACK_HOME to a folder this user can write",
    )


async def database(settings: Settings) -> list[Check]:
    url = settings.effective_database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        file = Path(parsed.database)
        if not file.exists():
            return [Check("database", "ok", f"{file} (created and migrated on first start)")]
    engine = create_engine(url, connect_timeout=settings.connect_timeout_seconds)
    try:
        revision = await asyncio.wait_for(
            migrations.current_revision(engine), settings.connect_timeout_seconds + 3
        )
    except Exception as error:  # whatever the driver raises, the answer is "unreachable"
        reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        return [
            Check(
                "database",
                "fail",
                f"cannot reach {shown_url(url)}: {reason}",
                "start the database, or fix WORKTRACK_DATABASE_URL (host, port, name, user)",
            )
        ]
    finally:
        await engine.dispose()
    sqlite = parsed.get_backend_name() == "sqlite"
    reached = Check("database", "ok", f"{shown_url(url)} reachable")
    return [reached, schema(revision, sqlite=sqlite)]


def _known(revision: str) -> bool:
    scripts = ScriptDirectory.from_config(migrations.alembic_config())
    return any(script.revision == revision for script in scripts.walk_revisions())


def schema(revision: str | None, *, sqlite: bool) -> Check:
    head = migrations.head_revision()
    if revision == head:
        return Check("schema", "ok", f"at revision {head} (current)")
    state = "not migrated" if revision is None else f"at revision {revision}"
    if revision is not None and not _known(revision):
        return Check(
            "schema",
            "fail",
            f"{state}, which this worktrack does not know (it needs {head})",
            "upgrade worktrack: a newer version migrated this database",
        )
    if sqlite:
        return Check("schema", "ok", f"{state}; migrated to {head} on the next start")
    return Check(
        "schema",
        "fail",
        f"{state}; this worktrack needs {head}",
        "run `worktrack migrate` (or `alembic upgrade head`) with this WORKTRACK_DATABASE_URL",
    )


async def status_file(settings: Settings) -> Check:
    try:
        path = paths.status_file(settings)
    except ValidationError as error:
        return Check(
            "status file",
            "fail",
            error.constraint,
            "set WORKTRACK_STATUS_FILE to a path inside the repository or WORKTRACK_HOME",
        )
    text = await asyncio.to_thread(files.read, path)
    if text is None:
        if _creatable(path.parent) is None:
            return Check("status file", "fail", f"{path.parent} is not writable", "fix permissions")
        return Check("status file", "ok", f"{path} (written by generate_status_report)")
    if not os.access(path, os.W_OK):
        return Check("status file", "fail", f"{path} is not writable", "fix its permissions")
    errors = parse(text).errors
    if errors:
        line, reason = errors[0]
        return Check(
            "status file",
            "warn",
            f"{path}: {len(errors)} line(s) not understood, first at line {line}: {reason}",
            "regenerate it: worktrack report --output <that path>",
        )
    return Check("status file", "ok", f"{path}")
