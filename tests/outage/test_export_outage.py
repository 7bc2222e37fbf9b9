"""``worktrack export`` while the Postgres primary is unreachable: the local replica is
exported instead, and stderr says so (contract §8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastmcp import Client
from typer.testing import CliRunner

from worktrack.cli import app as cli
from worktrack.services import portability
from worktrack.startup import close_app, open_app

from conftest import Outage
from helpers import project, task

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def test_an_outage_exports_the_local_replica_and_says_so(outage: Outage) -> None:
    async with Client(outage.server()) as client:  # seen through the primary: replicated
        root = await project(client, "Exported offline")
        await task(client, "a task", root)
    await outage.refresh()
    outage.proxy.set_mode("down")
    app = await open_app(outage.settings(), outage.clock)
    written: list[str] = []

    async def write(found: list[str]) -> None:
        written.extend(found)

    try:
        done = await portability.export_data(app, write)
    finally:
        await close_app(app)
    assert done.source == "sqlite_cache"
    assert done.replica_note is not None
    assert done.replica_note.startswith("postgresql is unreachable (")
    assert "exported this machine's local replica" in done.replica_note
    titles = {json.loads(line).get("title") for line in written[1:]}
    assert {"Exported offline", "a task"} <= titles
    assert json.loads(written[0])["kind"] == "worktrack-export"


def test_the_command_says_on_stderr_that_it_read_the_replica(tmp_path: Path) -> None:
    nobody = "postgresql+asyncpg://postgres@127.0.0.1:1/worktrack"  # nothing listens there
    repo = tmp_path / "repo"
    repo.mkdir()
    runner = CliRunner(
        env={
            "WORKTRACK_DATABASE_URL": nobody,
            "WORKTRACK_HOME": str(tmp_path / "home"),
            "WORKTRACK_REPO": str(repo),
        }
    )
    done = runner.invoke(cli, ["export"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout.splitlines()[0])["kind"] == "worktrack-export"
    assert "worktrack: postgresql is unreachable" in done.stderr
    assert "exported this machine's local replica" in done.stderr
    assert "from sqlite_cache" in done.stderr
