"""The repository being worked on is untrusted: an MCP client starts ``worktrack serve``
inside it, and a checkout can carry any file. These tests run the attacks that came
through its files, on the installed ``worktrack`` command, and show each refused:

- a ``.env`` that points the state folder and the status file at the user's home (so
  ``worktrack report`` overwrote ``~/.bashrc``) and the database elsewhere;
- an application's own ``DATABASE_URL`` in the environment;
- a ``.worktrack`` that is a symlink (it would make the user's home a root worktrack may
  write into) and lock paths that are directories or symlinks;
- bad settings, which stop ``serve`` with one line on stderr and exit code 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastmcp import Client
from fastmcp.client.transports import StdioTransport

from worktrack.report import files

from helpers import WORKTRACK, call, fail, git_repository, run_worktrack, user_environment

BASHRC = "export PATH=$HOME/bin:$PATH\n"


@pytest.fixture
def user(tmp_path: Path) -> Path:
    """The user's home, with a file an attacker would like to overwrite."""
    home = tmp_path / "user"
    home.mkdir()
    (home / ".bashrc").write_text(BASHRC)
    return home


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return git_repository(tmp_path / "checkout")


def plant_dotenv(repo: Path, user: Path, elsewhere: Path) -> None:
    (repo / ".env").write_text(
        f"WORKTRACK_HOME={user}\n"
        f"WORKTRACK_STATUS_FILE={user / '.bashrc'}\n"
        f"WORKTRACK_DATABASE_URL=sqlite+aiosqlite:///{elsewhere / 'stolen.db'}\n"
        f"DATABASE_URL=sqlite+aiosqlite:///{elsewhere / 'app.db'}\n"
        "WORKTRACK_TOOLSETS=reports\n"
    )


def test_a_dotenv_cannot_make_report_overwrite_a_file_in_the_users_home(
    repo: Path, user: Path, tmp_path: Path
) -> None:
    plant_dotenv(repo, user, tmp_path)
    done = run_worktrack(repo, user_environment(user), "report", "--output", str(user / ".bashrc"))
    assert done.returncode == 2 and "outside" in done.stderr and done.stdout == ""
    assert (user / ".bashrc").read_text() == BASHRC
    written = run_worktrack(
        repo, user_environment(user), "report", "--output", ".project_status.md"
    )
    assert written.returncode == 0, written.stderr
    assert (repo / ".project_status.md").read_text().startswith("# Project Status")
    assert (repo / ".worktrack" / "worktrack.db").exists()  # the default, not the .env's
    assert not (tmp_path / "stolen.db").exists() and not (tmp_path / "app.db").exists()


async def test_a_dotenv_does_not_steer_the_server_a_client_starts_in_the_repository(
    repo: Path, user: Path, tmp_path: Path
) -> None:
    plant_dotenv(repo, user, tmp_path)
    transport = StdioTransport(WORKTRACK, ["serve"], env=user_environment(user), cwd=str(repo))
    async with Client(transport) as client:
        assert len(await client.list_tools()) > 5  # the .env's WORKTRACK_TOOLSETS ignored
        written = await call(client, "generate_status_report", write_file=True)
    assert written["path"] == str(repo.resolve() / ".project_status.md")
    assert (user / ".bashrc").read_text() == BASHRC
    assert not (tmp_path / "stolen.db").exists() and not (tmp_path / "app.db").exists()


def test_an_applications_database_url_is_not_worktracks(repo: Path, user: Path) -> None:
    app_db = "postgresql+asyncpg://app:secret@127.0.0.1:9/app"  # would refuse: port 9
    done = run_worktrack(repo, user_environment(user, DATABASE_URL=app_db), "health", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["primary"]["kind"] == "sqlite"


def test_a_symlinked_state_folder_in_the_repository_is_refused(repo: Path, user: Path) -> None:
    (repo / ".worktrack").symlink_to(user, target_is_directory=True)
    (repo / ".project_status.md").symlink_to(user / ".bashrc")
    served = run_worktrack(repo, user_environment(user), "serve")
    assert served.returncode == 2 and served.stdout == ""
    assert served.stderr.count("\n") == 1 and "is a symlink" in served.stderr
    reported = run_worktrack(
        repo, user_environment(user), "report", "--output", ".project_status.md"
    )
    assert reported.returncode == 2 and "is a symlink" in reported.stderr
    assert (user / ".bashrc").read_text() == BASHRC
    assert sorted(p.name for p in user.iterdir()) == [".bashrc"]


@pytest.mark.parametrize("kind", ["directory", "symlink"])
def test_a_lock_path_that_cannot_be_a_lock_is_one_clear_line(
    repo: Path, user: Path, kind: str
) -> None:
    status = repo.resolve() / ".project_status.md"
    lock = files.lock_path(status, repo.resolve() / ".worktrack")
    lock.parent.mkdir(parents=True)
    if kind == "directory":
        lock.mkdir()
    else:
        lock.symlink_to(user / ".bashrc")
    done = run_worktrack(repo, user_environment(user), "report", "--output", ".project_status.md")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        f"worktrack: cannot write {status}: cannot take its lock {lock}: it is a {kind}; "
        "remove it (worktrack makes a new lock file)\n"
    )
    assert (user / ".bashrc").read_text() == BASHRC and not status.exists()


async def test_the_tool_reports_a_bad_lock_path_as_unavailable(repo: Path, user: Path) -> None:
    status = repo.resolve() / ".project_status.md"
    files.lock_path(status, repo.resolve() / ".worktrack").mkdir(parents=True)
    transport = StdioTransport(WORKTRACK, ["serve"], env=user_environment(user), cwd=str(repo))
    async with Client(transport) as client:
        error = await fail(client, "generate_status_report", write_file=True)
        assert error["error"] == "UnavailableError" and "it is a directory" in error["message"]
        assert (await call(client, "generate_status_report"))["path"] is None  # reads still work


BAD_SETTINGS = [
    ({"WORKTRACK_TOOLSETS": "work_items,sprints"}, "WORKTRACK_TOOLSETS: Input should be"),
    ({"WORKTRACK_DATABASE_URL": "mysql://root:hunter2@db/app"}, "WORKTRACK_DATABASE_URL: must be"),
    ({"WORKTRACK_CACHE_TTL_MINUTES": "soon"}, "WORKTRACK_CACHE_TTL_MINUTES: Input should be"),
    ({"WORKTRACK_READ_ONLY": "perhaps"}, "WORKTRACK_READ_ONLY: Input should be"),
    ({"WORKTRACK_REPO": "${workspaceFolder}"}, "did not fill in"),
    ({"WORKTRACK_HOME": "FILE"}, "WORKTRACK_HOME: cannot create"),
]


HTTP = ["--http", "--no-auth", "--port", "0"]


@pytest.mark.parametrize("transport", [[], HTTP], ids=["stdio", "http"])
@pytest.mark.parametrize(("bad", "says"), BAD_SETTINGS, ids=lambda value: str(value)[:30])
def test_a_bad_setting_stops_serve_with_one_line_and_exit_code_2(
    repo: Path, user: Path, transport: list[str], bad: dict[str, str], says: str
) -> None:
    a_file = user / ".bashrc"
    env = user_environment(user, **{k: v.replace("FILE", str(a_file)) for k, v in bad.items()})
    done = run_worktrack(repo, env, "serve", *transport)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("worktrack: ")
    assert says in done.stderr and "Traceback" not in done.stderr and "hunter2" not in done.stderr
