"""``worktrack doctor`` on healthy and broken setups: what it finds and what it tells to fix."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.engine import make_url

from worktrack import doctor
from worktrack.migrations import alembic_config, head_revision
from worktrack.settings import Settings

from conftest import ADMIN_URL, _admin

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))


def run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env}
    environ |= {k: v for k, v in os.environ.items() if k.startswith("COVERAGE")}
    return subprocess.run(
        [WORKTRACK, "doctor"],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def verdicts(output: str) -> dict[str, str]:
    found = {}
    for line in output.splitlines():
        verdict, _, rest = line.partition(" ")
        if verdict in ("ok", "warn", "fail"):
            found[rest.strip()[:13].strip()] = verdict
    return found


@pytest.fixture
def healthy(tmp_path: Path) -> dict[str, str]:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo, check=True)
    home = tmp_path / "home"
    command.upgrade(alembic_config(f"sqlite+aiosqlite:///{home / 'worktrack.db'}"), "head")
    return {"WORKTRACK_REPO": str(repo), "WORKTRACK_HOME": str(home)}


@pytest.fixture
def empty_pg() -> Iterator[str]:
    name = f"worktrack_doctor_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_a_healthy_sqlite_setup_passes(tmp_path: Path, healthy: dict[str, str]) -> None:
    done = run(tmp_path, **healthy)
    assert done.returncode == 0, done.stdout
    assert set(verdicts(done.stdout).values()) == {"ok"}
    assert f"at revision {head_revision()} (current)" in done.stdout
    assert "on main at" in done.stdout and "fix:" not in done.stdout


@pytest.mark.postgres
def test_a_healthy_postgres_setup_passes(
    tmp_path: Path, healthy: dict[str, str], pg_url: str
) -> None:
    done = run(tmp_path, **healthy, WORKTRACK_DATABASE_URL=pg_url)
    assert done.returncode == 0, done.stdout
    assert verdicts(done.stdout)["schema"] == "ok"


@pytest.mark.postgres
def test_an_unmigrated_postgres_says_to_migrate(
    tmp_path: Path, healthy: dict[str, str], empty_pg: str
) -> None:
    done = run(tmp_path, **healthy, WORKTRACK_DATABASE_URL=empty_pg)
    assert done.returncode == 1
    assert verdicts(done.stdout) | {"schema": "fail"} == verdicts(done.stdout)
    assert "not migrated" in done.stdout and "fix: run `worktrack migrate`" in done.stdout
    command.upgrade(alembic_config(empty_pg), "head")
    assert run(tmp_path, **healthy, WORKTRACK_DATABASE_URL=empty_pg).returncode == 0


def test_a_broken_setup_fails_and_says_what_to_fix(tmp_path: Path) -> None:
    done = run(
        tmp_path,
        WORKTRACK_REPO=str(tmp_path / "missing"),
        WORKTRACK_HOME=str(tmp_path / "state"),
        WORKTRACK_DATABASE_URL="postgresql+asyncpg://worktrack:pw@127.0.0.1:9/nowhere",
        WORKTRACK_STATUS_FILE="/etc/worktrack-status.md",
        WORKTRACK_HTTP_TOKEN="short",
        WORKTRACK_CONNECT_TIMEOUT_SECONDS="1",
    )
    assert done.returncode == 1
    found = verdicts(done.stdout)
    assert found["repository"] == found["database"] == found["status file"] == "fail"
    assert found["configuration"] == "warn"
    assert done.stdout.count("fix:") == 4
    assert "pw@" not in done.stdout  # the password is never shown
    assert not (tmp_path / "state").exists()  # doctor writes nothing


def test_invalid_settings_name_the_variable(tmp_path: Path) -> None:
    done = run(tmp_path, WORKTRACK_TOOLSETS="work_items,sprints")
    assert done.returncode == 1
    assert "fail  configuration  WORKTRACK_TOOLSETS" in done.stdout and "fix:" in done.stdout


async def test_sqlite_schema_states(tmp_path: Path, healthy: dict[str, str]) -> None:
    database = Path(healthy["WORKTRACK_HOME"]) / "worktrack.db"
    settings = Settings(repo=Path(healthy["WORKTRACK_REPO"]), home=database.parent)
    config = alembic_config(f"sqlite+aiosqlite:///{database}")
    await asyncio.to_thread(command.stamp, config, "0002")
    older = {check.name: check for check in await doctor.run(settings)}
    assert older["schema"].verdict == "ok" and "on the next start" in older["schema"].detail
    with sqlite3.connect(database) as conn:
        conn.execute("UPDATE alembic_version SET version_num = 'ffff'")
    newer = {check.name: check for check in await doctor.run(settings)}
    assert newer["schema"].verdict == "fail" and "upgrade worktrack" in newer["schema"].fix


async def test_a_damaged_status_file_is_a_warning(tmp_path: Path, healthy: dict[str, str]) -> None:
    repo = Path(healthy["WORKTRACK_REPO"])
    (repo / ".project_status.md").write_text("# Project Status - x\n<<<<<<< HEAD\n")
    settings = Settings(repo=repo, home=Path(healthy["WORKTRACK_HOME"]))
    checks = {check.name: check for check in await doctor.run(settings)}
    assert checks["status file"].verdict == "warn"
    assert "not understood" in checks["status file"].detail


async def test_a_state_folder_that_is_a_file_fails(tmp_path: Path) -> None:
    (tmp_path / "state").write_text("not a folder")
    settings = Settings(repo=tmp_path, home=tmp_path / "state")
    checks = {check.name: check for check in await doctor.run(settings)}
    assert checks["state folder"].verdict == "fail"
    assert checks["repository"].verdict == "warn"  # a folder, but not a git repository


async def test_a_state_folder_the_repository_made_a_symlink_fails(tmp_path: Path) -> None:
    repo, elsewhere = tmp_path / "repo", tmp_path / "elsewhere"
    repo.mkdir()
    elsewhere.mkdir()
    (repo / ".worktrack").symlink_to(elsewhere, target_is_directory=True)
    checks = {check.name: check for check in await doctor.run(Settings(repo=repo))}
    assert checks["state folder"].verdict == checks["status file"].verdict == "fail"
    assert "is a symlink" in checks["state folder"].detail
    assert list(elsewhere.iterdir()) == []  # doctor writes nothing
