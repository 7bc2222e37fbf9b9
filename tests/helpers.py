"""Calling tools the way a client does, and reading their results and errors."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport
from sqlalchemy import event

from worktrack.services.app import App


async def call(client: Client[Any], tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def fail(client: Client[Any], tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must fail; return the contract's error object."""
    result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert result.is_error, f"{tool} unexpectedly succeeded: {result.structured_content}"
    error: dict[str, Any] = json.loads(result.content[0].text)  # type: ignore[union-attr]
    assert set(error) == {"error", "message", "details"}
    return error


PROJECT_META = {"target_quarter": "2026-Q4"}
SESSION_META = {
    "token_budget": 50_000,
    "prompts_count": 0,
    "yaml_frontmatter": {"schema_version": "1.0"},
}


async def project(client: Client[Any], title: str = "Project", **extra: Any) -> dict[str, Any]:
    extra.setdefault("description", "the project")
    return await call(client, "create_work_item", item_type="project", title=title, **extra)


async def task(
    client: Client[Any], title: str, parent: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    if parent is not None:
        extra["parent_id"] = parent["id"]
    return await call(client, "create_work_item", item_type="task", title=title, **extra)


# -- the real server over stdio, spawned as a client spawns it --

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))


def spawn(tmp_path: Path, env: dict[str, str], stdout_copy: Path) -> StdioTransport:
    """``worktrack serve`` with a copy of everything it writes to stdout."""
    command = f"{shlex.quote(WORKTRACK)} serve | tee {shlex.quote(str(stdout_copy))}"
    return StdioTransport(command="sh", args=["-c", command], env=env, cwd=str(tmp_path))


def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "WORKTRACK_HOME": str(tmp_path / "state"),
        "FASTMCP_LOG_LEVEL": "DEBUG",
    }


def git_repository(folder: Path) -> Path:
    """A new git repository at ``folder`` with one commit."""
    folder.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=folder, check=True)
    (folder / "README.md").write_text("a project\n")
    subprocess.run([*git, "add", "README.md"], cwd=folder, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "start"], cwd=folder, check=True)
    return folder


def user_environment(home: Path, **extra: str) -> dict[str, str]:
    """What an MCP client gives the server: PATH and HOME (and coverage), nothing else."""
    coverage = {k: v for k, v in os.environ.items() if k.startswith("COVERAGE")}
    return {"PATH": os.environ["PATH"], "HOME": str(home), **coverage, **extra}


def run_worktrack(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The installed ``worktrack`` command, run to its end with no input."""
    return subprocess.run(
        [WORKTRACK, *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_only_jsonrpc(stdout_copy: Path) -> int:
    lines = stdout_copy.read_text().splitlines()
    for line in lines:
        message: dict[str, Any] = json.loads(line)
        assert message["jsonrpc"] == "2.0"
    return len(lines)


# -- statements a unit of work sends to the database --


@contextmanager
def counting(app: App) -> Iterator[list[str]]:
    """The SQL statements sent while the block runs (observed, not intercepted)."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    engine = app.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)
