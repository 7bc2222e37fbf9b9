"""The first hour with worktrack, on the installed command: the user's repository stays
clean, versions are reported, a user-wide Cursor entry follows the open workspace,
passwords stay out of what is printed and written, and the help reads at 80 columns."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport

from helpers import WORKTRACK, call, git_repository, run_worktrack, user_environment

README = Path(__file__).parents[1] / "README.md"


async def test_the_repository_is_left_with_the_status_file_and_nothing_else(
    tmp_path: Path,
) -> None:
    repo = git_repository(tmp_path / "project")
    env = user_environment(tmp_path)
    transport = StdioTransport(WORKTRACK, ["serve"], env=env, cwd=str(repo))
    async with Client(transport) as client:
        await call(client, "create_work_item", item_type="task", title="first")
        written = await call(client, "generate_status_report", write_file=True)
    assert written["path"] == str(repo.resolve() / ".project_status.md")
    done = run_worktrack(repo, env, "report", "--output", ".project_status.md")
    assert done.returncode == 0, done.stderr
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--ignored=no"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    assert status.stdout.splitlines() == ["?? .project_status.md"]
    assert (repo / ".worktrack" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_version(tmp_path: Path) -> None:
    done = run_worktrack(tmp_path, user_environment(tmp_path), "--version")
    assert done.returncode == 0 and done.stdout == f"worktrack {version('worktrack')}\n"


async def test_server_info_names_worktrack_and_its_version(tmp_path: Path) -> None:
    transport = StdioTransport(
        WORKTRACK, ["serve"], env=user_environment(tmp_path), cwd=str(tmp_path)
    )
    async with Client(transport) as client:
        assert client.server_info is not None
        assert client.server_info.name == "worktrack"
        assert client.server_info.version == version("worktrack")


def test_sync_with_nothing_to_do_exits_0(tmp_path: Path) -> None:
    done = run_worktrack(tmp_path, user_environment(tmp_path), "sync")
    assert done.returncode == 0 and done.stdout.startswith("applied 0, conflicts 0")
    as_json = run_worktrack(tmp_path, user_environment(tmp_path), "sync", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["remaining"] == 0


async def test_a_user_wide_cursor_entry_serves_whichever_workspace_is_open(
    tmp_path: Path,
) -> None:
    home = tmp_path / "user"
    home.mkdir()
    first = git_repository(tmp_path / "first")
    env = user_environment(home, WORKTRACK_HOME=str(first / "state"), WORKTRACK_ACTOR="alice")
    done = run_worktrack(first, env, "install", "cursor", "--global")
    assert done.returncode == 0, done.stderr
    entry = json.loads((home / ".cursor" / "mcp.json").read_text())["mcpServers"]["worktrack"]
    assert entry["env"] == {"WORKTRACK_REPO": "${workspaceFolder}", "WORKTRACK_ACTOR": "alice"}
    assert "WORKTRACK_HOME left out" in done.stderr
    # Cursor fills in the folder of the workspace it opens, whatever its own directory.
    second = git_repository(tmp_path / "second")
    filled = {k: v.replace("${workspaceFolder}", str(second)) for k, v in entry["env"].items()}
    transport = StdioTransport(
        entry["command"], entry["args"], env=user_environment(home, **filled), cwd=str(home)
    )
    async with Client(transport) as client:
        written = await call(client, "generate_status_report", write_file=True)
    assert written["path"] == str(second.resolve() / ".project_status.md")
    assert not (first / ".project_status.md").exists()
    # A client that does not fill it in gets one clear line, not a server on a wrong folder.
    unfilled = run_worktrack(home, user_environment(home, **entry["env"]), "serve")
    assert unfilled.returncode == 2 and "did not fill in" in unfilled.stderr


async def test_a_user_wide_claude_code_entry_serves_the_project_it_is_started_in(
    tmp_path: Path,
) -> None:
    home = tmp_path / "user"
    home.mkdir()
    first = git_repository(tmp_path / "first")
    done = run_worktrack(
        first,
        user_environment(home, WORKTRACK_ACTOR="bob"),
        "install",
        "claude-code",
        "--scope",
        "user",
        "--print",
    )
    assert done.returncode == 0, done.stderr
    argv = shlex.split(done.stdout)
    assert argv[:6] == ["claude", "mcp", "add", "worktrack", "--scope", "user"]
    assert "WORKTRACK_REPO" not in done.stdout and "-e WORKTRACK_ACTOR=bob" in done.stdout
    # Claude Code starts the server in the project it runs in: that project is tracked.
    second = git_repository(tmp_path / "second")
    command = argv[argv.index("--") + 1 :]
    transport = StdioTransport(
        command[0],
        command[1:],
        env=user_environment(home, WORKTRACK_ACTOR="bob"),
        cwd=str(second),
    )
    async with Client(transport) as client:
        written = await call(client, "generate_status_report", write_file=True)
    assert written["path"] == str(second.resolve() / ".project_status.md")
    assert not (first / ".project_status.md").exists()


PASSWORD_URL = "postgresql+asyncpg://team@127.0.0.1:9/worktrack?password=hunter2&ssl=disable"


@pytest.mark.parametrize("client", ["cursor", "claude-desktop", "claude-code"])
def test_install_never_prints_or_writes_a_query_password(tmp_path: Path, client: str) -> None:
    repo = git_repository(tmp_path / "project")
    env = user_environment(tmp_path, WORKTRACK_DATABASE_URL=PASSWORD_URL)
    printed = run_worktrack(repo, env, "install", client, "--print")
    assert printed.returncode == 0 and "hunter2" not in printed.stdout + printed.stderr
    assert "team@127.0.0.1:9/worktrack?ssl=disable" in printed.stdout
    assert "~/.pgpass" in printed.stderr
    if client == "cursor":
        assert run_worktrack(repo, env, "install", client).returncode == 0
        written = (repo / ".cursor" / "mcp.json").read_text()
        assert "hunter2" not in written and "ssl=disable" in written


def test_doctor_masks_every_password_form(tmp_path: Path) -> None:
    for url in (PASSWORD_URL, "postgresql+asyncpg://team:hunter2@127.0.0.1:9/worktrack"):
        env = user_environment(tmp_path, WORKTRACK_DATABASE_URL=url, WORKTRACK_HOME=str(tmp_path))
        env["WORKTRACK_CONNECT_TIMEOUT_SECONDS"] = "1"
        done = run_worktrack(tmp_path, env, "doctor")
        assert done.returncode == 1  # the database is unreachable
        assert "hunter2" not in done.stdout + done.stderr and "***" in done.stdout


def test_help_reads_at_80_columns(tmp_path: Path) -> None:
    env = user_environment(tmp_path, COLUMNS="80")
    for command in (["--help"], ["bench", "--help"], ["serve", "--help"], ["install", "--help"]):
        done = run_worktrack(tmp_path, env, *command)
        assert done.returncode == 0
        lines = done.stdout.splitlines()
        assert all(len(line) <= 80 for line in lines), command
        assert not re.search("[─│╭╮╰╯]", done.stdout)  # plain text, no boxes
    bench = run_worktrack(tmp_path, env, "bench", "--help").stdout
    for option in ("--database-url", "--scale", "--quick", "--iterations", "--scenario", "--json"):
        assert re.search(rf"^\s+{option}\b", bench, re.MULTILINE), option


def test_readme_links_say_above_or_below_truthfully() -> None:
    text = README.read_text(encoding="utf-8")
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-"): found.start()
        for found in re.finditer(r"^#+ (.+)$", text, re.MULTILINE)
        for title in [found.group(1)]
    }
    links = list(re.finditer(r"\[(above|below)\]\(#([a-z0-9-]+)\)", text))
    assert links, "the README has no above/below links to check"
    for link in links:
        direction, anchor = link.groups()
        assert anchor in anchors, anchor
        where = "above" if anchors[anchor] < link.start() else "below"
        assert where == direction, f"{anchor} is {where} the link that says {direction}"
