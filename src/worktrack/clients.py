"""How MCP clients start worktrack: the stdio command and its environment, per client, and
``worktrack install``, which writes that into the client's configuration.

Every client gets the same server entry: the absolute path of this ``worktrack`` command,
``serve``, and the environment it needs (``WORKTRACK_REPO`` always; the other worktrack
settings when they are set here, paths made absolute). A database password is never
written into a client's configuration, neither the user-info one nor a ``?password=``
parameter: the URL goes without it (asyncpg then reads ``~/.pgpass``).

A user-wide Cursor entry (``install cursor --global``) serves every project Cursor opens,
so it names no repository: ``WORKTRACK_REPO`` is ``${workspaceFolder}``, which Cursor
fills in with the open workspace when it starts the server, and the repository-bound
paths (``WORKTRACK_HOME``, ``WORKTRACK_STATUS_FILE``) are left to their per-repository
defaults. A user-wide Claude Code entry (``install claude-code --scope user``) names no
repository either: Claude Code starts its servers in the project it runs in, and
``WORKTRACK_REPO`` defaults to the working directory. Writing merges into the existing
file: other servers and settings stay as they were, the ``worktrack`` entry is replaced, and
the file is replaced atomically; a file that is not plain JSON is left alone.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from worktrack.report import files
from worktrack.settings import Settings, url_without_password

Client = Literal["claude-code", "claude-desktop", "cursor"]
Scope = Literal["local", "project", "user"]
SERVER_NAME = "worktrack"
# Cursor replaces this with the folder of the workspace it starts the server for.
WORKSPACE_FOLDER = "${workspaceFolder}"


class InstallError(Exception):
    """The configuration cannot be written as asked; the message says what to do."""


def executable() -> str:
    """The absolute path of the running ``worktrack`` command."""
    started_as = Path(sys.argv[0])
    if started_as.name == "worktrack" and started_as.exists():
        return str(started_as.resolve())
    return shutil.which("worktrack") or str(Path(sys.executable).with_name("worktrack"))


@dataclass(frozen=True)
class ServerEnv:
    values: dict[str, str]
    notes: list[str] = field(default_factory=list)


def server_env(
    settings: Settings, *, every_workspace: bool = False, workspace_repo: str | None = None
) -> ServerEnv:
    """The environment a client must give ``worktrack serve`` to reproduce these settings;
    with ``every_workspace``, for a client that starts it in whichever project is open, the
    repository being ``workspace_repo`` (a variable the client fills in), or the server's
    working directory when that is None."""
    given = settings.model_fields_set
    notes: list[str] = []
    env: dict[str, str] = {}
    if not every_workspace:
        env["WORKTRACK_REPO"] = str(settings.repo.resolve())
    elif workspace_repo is not None:
        env["WORKTRACK_REPO"] = workspace_repo
    if settings.database_url:
        url, had_password = url_without_password(settings.database_url)
        if had_password:
            notes.append(
                "the database password is not written into the client configuration; "
                "put it in ~/.pgpass (or PGPASSWORD in the client's environment)"
            )
        env["WORKTRACK_DATABASE_URL"] = url
    paths = _repository_paths(settings)
    if every_workspace and paths:
        notes.append(
            f"{', '.join(paths)} left out: a user-wide entry serves every workspace, each "
            "with its own .worktrack and status file"
        )
    elif paths:
        env |= paths
    if settings.actor:
        env["WORKTRACK_ACTOR"] = settings.actor
    if "toolsets" in given:
        env["WORKTRACK_TOOLSETS"] = ",".join(settings.toolsets)
    if settings.read_only:
        env["WORKTRACK_READ_ONLY"] = "true"
    if "cache_ttl_minutes" in given:
        env["WORKTRACK_CACHE_TTL_MINUTES"] = f"{settings.cache_ttl_minutes:g}"
    return ServerEnv(env, notes)


def _repository_paths(settings: Settings) -> dict[str, str]:
    """The state folder and status file, when they were set rather than derived."""
    given = settings.model_fields_set
    paths = {"WORKTRACK_HOME": settings.home_dir, "WORKTRACK_STATUS_FILE": settings.status_path}
    chosen = {"WORKTRACK_HOME": "home" in given, "WORKTRACK_STATUS_FILE": "status_file" in given}
    return {name: str(path) for name, path in paths.items() if chosen[name]}


def server_entry(command: str, env: Mapping[str, str]) -> dict[str, Any]:
    """One ``mcpServers`` entry, as Claude Desktop, Cursor and Claude Code read it."""
    return {"command": command, "args": ["serve"], "env": dict(env)}


def claude_code_argv(command: str, env: Mapping[str, str], scope: Scope = "local") -> list[str]:
    # The name comes before -e: claude's -e takes several values and would swallow it.
    scope_option = [] if scope == "local" else ["--scope", scope]
    pairs = [part for name, value in env.items() for part in ("-e", f"{name}={value}")]
    return ["claude", "mcp", "add", SERVER_NAME, *scope_option, *pairs, "--", command, "serve"]


def claude_code(command: str, env: Mapping[str, str], scope: Scope = "local") -> str:
    return shlex.join(claude_code_argv(command, env, scope))


def json_config(command: str, env: Mapping[str, str]) -> str:
    """The ``mcpServers`` block Claude Desktop and Cursor read."""
    return json.dumps({"mcpServers": {SERVER_NAME: server_entry(command, env)}}, indent=2)


def connection_help(command: str, env: Mapping[str, str]) -> str:
    return "\n".join(
        [
            "worktrack speaks MCP on stdio; an MCP client starts it. To connect one:",
            "",
            "  Claude Code:",
            f"    {claude_code(command, env)}",
            "",
            "  Claude Desktop (claude_desktop_config.json) and Cursor (.cursor/mcp.json):",
            *(f"    {line}" for line in json_config(command, env).splitlines()),
            "",
            "  Or let worktrack write it: worktrack install claude-code|claude-desktop|cursor",
            "",
            "Waiting for a client on stdin (Ctrl-C to stop).",
        ]
    )


def claude_desktop_config(environ: Mapping[str, str] = os.environ) -> Path:
    """Where Claude Desktop reads its configuration on this platform."""
    home = Path(environ.get("HOME") or Path.home())
    if sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    elif sys.platform == "win32":
        base = Path(environ.get("APPDATA") or home / "AppData" / "Roaming")
    else:  # Linux builds follow the XDG layout
        base = Path(environ.get("XDG_CONFIG_HOME") or home / ".config")
    return base / "Claude" / "claude_desktop_config.json"


def cursor_config(repo: Path, *, user_wide: bool, environ: Mapping[str, str] = os.environ) -> Path:
    """Cursor's project configuration (``<repo>/.cursor/mcp.json``) or its user-wide one."""
    if user_wide:
        return Path(environ.get("HOME") or Path.home()) / ".cursor" / "mcp.json"
    return repo / ".cursor" / "mcp.json"


def merged(existing: str | None, entry: dict[str, Any], path: Path) -> str:
    """``existing`` with the worktrack entry set, everything else kept as it was."""
    try:
        config = json.loads(existing) if existing and existing.strip() else {}
    except json.JSONDecodeError as error:
        raise InstallError(
            f"{path} is not plain JSON ({error.msg}, line {error.lineno}); it was left "
            "unchanged: add the entry printed by --print by hand"
        ) from None
    servers = config.get("mcpServers", {}) if isinstance(config, dict) else None
    if not isinstance(servers, dict):
        raise InstallError(f"{path} has no mcpServers object where one belongs; left unchanged")
    config["mcpServers"] = {**servers, SERVER_NAME: entry}
    return json.dumps(config, indent=2, ensure_ascii=False) + "\n"


def write_entry(path: Path, entry: dict[str, Any], home: Path) -> int:
    """Merge the entry into the file at ``path`` atomically, the other servers kept; the
    writer lock lives in ``home``, never beside the file."""
    lock = files.lock_path(path, home)
    files.update(path, lambda existing: merged(existing, entry, path), lock=lock)
    servers: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))["mcpServers"]
    return len(servers) - 1
