"""``worktrack install``: the configuration each client documents, printed or merged in."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport

from worktrack import clients
from worktrack.settings import Settings

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))
# The stdio server entry as Claude Desktop (claude_desktop_config.json), Cursor
# (.cursor/mcp.json, ~/.cursor/mcp.json) and Claude Code (.mcp.json) document it: an
# "mcpServers" object of named servers, each a command, its args and its environment.
DOCUMENTED = {
    "type": "object",
    "required": ["mcpServers"],
    "properties": {
        "mcpServers": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["command"],
                "additionalProperties": False,
                "properties": {
                    "command": {"type": "string", "minLength": 1},
                    "args": {"type": "array", "items": {"type": "string"}},
                    "env": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        }
    },
}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "user"
    folder.mkdir()
    return folder


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def install(
    home: Path, project: Path, *args: str, path: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    search = path if path is not None else str(Path(sys.executable).parent) + ":/usr/bin:/bin"
    environ = {"PATH": search, "HOME": str(home), **env}
    environ |= {k: v for k, v in os.environ.items() if k.startswith("COVERAGE")}
    return subprocess.run(
        [WORKTRACK, "install", *args],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def entry_of(config: dict[str, Any]) -> dict[str, Any]:
    jsonschema.validate(config, DOCUMENTED)
    entry: dict[str, Any] = config["mcpServers"]["worktrack"]
    return entry


@pytest.mark.parametrize("client", ["claude-desktop", "cursor"])
def test_printed_json_is_the_documented_stdio_entry(home: Path, project: Path, client: str) -> None:
    done = install(home, project, client, "--print")
    assert done.returncode == 0, done.stderr
    entry = entry_of(json.loads(done.stdout))
    assert Path(entry["command"]).is_absolute() and os.access(entry["command"], os.X_OK)
    assert Path(entry["command"]).name == "worktrack"
    assert entry["args"] == ["serve"]
    assert entry["env"] == {"WORKTRACK_REPO": str(project)}
    where = {
        "claude-desktop": home / ".config" / "Claude" / "claude_desktop_config.json",
        "cursor": project / ".cursor" / "mcp.json",
    }[client]
    assert f"merge this into {where}" in done.stderr
    assert not where.exists()  # --print writes nothing


def test_printed_claude_code_command_is_the_documented_form(home: Path, project: Path) -> None:
    done = install(home, project, "claude-code", "--print", "--scope", "project")
    assert done.returncode == 0, done.stderr
    argv = shlex.split(done.stdout)
    # claude mcp add <name> [options] -- <command> [args...]; -e KEY=value, --scope
    assert argv[:4] == ["claude", "mcp", "add", "worktrack"]
    split = argv.index("--")
    assert argv[split + 1 :] == [str(Path(WORKTRACK).resolve()), "serve"]
    options = argv[4:split]
    assert options[:2] == ["--scope", "project"]
    pairs = options[2:]
    assert pairs[0::2] == ["-e"] * (len(pairs) // 2)
    assert dict(pair.split("=", 1) for pair in pairs[1::2]) == {"WORKTRACK_REPO": str(project)}


async def test_the_printed_entry_starts_a_working_server(home: Path, project: Path) -> None:
    entry = entry_of(json.loads(install(home, project, "cursor", "--print").stdout))
    transport = StdioTransport(command=entry["command"], args=entry["args"], env=entry["env"])
    async with Client(transport) as client:
        tools = {tool.name for tool in await client.list_tools()}
        assert "create_work_item" in tools
        made = await client.call_tool("create_work_item", {"item_type": "task", "title": "hi"})
        assert made.structured_content is not None
    assert (project / ".worktrack" / "worktrack.db").is_file()  # WORKTRACK_REPO was used


def test_writing_merges_and_keeps_other_servers(home: Path, project: Path) -> None:
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    other = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"]}
    stale = {"command": "/old/worktrack", "args": ["serve"]}
    before = {"globalShortcut": "Ctrl+Space", "mcpServers": {"memory": other, "worktrack": stale}}
    path.write_text(json.dumps(before))
    os.chmod(path, 0o600)
    inode = path.stat().st_ino

    done = install(home, project, "claude-desktop")
    assert done.returncode == 0, done.stderr
    assert "1 other servers kept" in done.stderr and "restart Claude Desktop" in done.stderr
    after = json.loads(path.read_text())
    assert after["globalShortcut"] == "Ctrl+Space"
    assert after["mcpServers"]["memory"] == other
    assert entry_of(after)["command"] != "/old/worktrack"
    assert path.stat().st_ino != inode  # replaced by rename, never rewritten in place
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # the user's permissions kept
    # Nothing left beside it: the writer's lock lives in worktrack's state folder.
    assert [p.name for p in path.parent.iterdir()] == ["claude_desktop_config.json"]
    assert list((project / ".worktrack" / "locks").glob("claude_desktop_config.json.*.lock"))

    again = install(home, project, "claude-desktop")
    assert again.returncode == 0 and json.loads(path.read_text()) == after  # idempotent


def test_cursor_writes_the_project_file_or_the_user_one(home: Path, project: Path) -> None:
    assert install(home, project, "cursor").returncode == 0
    assert entry_of(json.loads((project / ".cursor" / "mcp.json").read_text()))["args"] == ["serve"]
    assert install(home, project, "cursor", "--global").returncode == 0
    assert entry_of(json.loads((home / ".cursor" / "mcp.json").read_text()))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{\n  // my servers\n  "mcpServers": {}\n}', "not plain JSON"),
        ('{"mcpServers": ["worktrack"]}', "no mcpServers object"),
        ("[1, 2]", "no mcpServers object"),
    ],
    ids=["comments", "servers-list", "top-level-list"],
)
def test_a_file_it_cannot_merge_is_left_alone(
    home: Path, project: Path, text: str, says: str
) -> None:
    path = project / "custom.json"
    path.write_text(text)
    done = install(home, project, "cursor", "--config", str(path))
    assert done.returncode == 1 and says in done.stderr
    assert path.read_text() == text


def test_claude_code_without_claude_prints_the_command(home: Path, project: Path) -> None:
    done = install(home, project, "claude-code")
    assert done.returncode == 0
    assert "`claude` is not on PATH" in done.stderr
    assert shlex.split(done.stdout)[:4] == ["claude", "mcp", "add", "worktrack"]


def test_claude_code_with_claude_runs_it(home: Path, project: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "claude-args.json"
    fake = bin_dir / "claude"  # stands in for the claude CLI: records what it was asked
    fake.write_text(
        f"#!{sys.executable}\nimport json, sys\n"
        f"json.dump(sys.argv[1:], open({str(record)!r}, 'w'))\nsys.exit(3)\n"
    )
    fake.chmod(0o755)
    printed = install(home, project, "claude-code", "--print").stdout
    search = f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin"
    done = install(home, project, "claude-code", path=search)
    assert done.returncode == 3  # claude's own exit status
    assert json.loads(record.read_text()) == shlex.split(printed)[1:]


def test_settings_travel_with_the_entry_but_no_password(home: Path, project: Path) -> None:
    done = install(
        home,
        project,
        "claude-desktop",
        "--print",
        WORKTRACK_DATABASE_URL="postgresql+asyncpg://team:s3cret@db.internal:5432/worktrack",
        WORKTRACK_HOME="state",
        WORKTRACK_ACTOR="alice",
        WORKTRACK_TOOLSETS="work_items,reports",
        WORKTRACK_READ_ONLY="true",
    )
    env = entry_of(json.loads(done.stdout))["env"]
    assert env == {
        "WORKTRACK_REPO": str(project),
        "WORKTRACK_DATABASE_URL": "postgresql+asyncpg://team@db.internal:5432/worktrack",
        "WORKTRACK_HOME": str(project / "state"),  # made absolute
        "WORKTRACK_ACTOR": "alice",
        "WORKTRACK_TOOLSETS": "work_items,reports",
        "WORKTRACK_READ_ONLY": "true",
    }
    assert "s3cret" not in done.stdout and "~/.pgpass" in done.stderr


def test_connection_help_shows_every_client(tmp_path: Path) -> None:
    env = clients.server_env(Settings(repo=tmp_path)).values
    text = clients.connection_help("/opt/wt/bin/worktrack", env)
    assert clients.claude_code("/opt/wt/bin/worktrack", env) in text
    assert '"mcpServers"' in text and "worktrack install" in text
