"""``worktrack archive`` on both databases, through typer's runner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from worktrack.cli import app as cli
from worktrack.services import work_items
from worktrack.startup import close_app, open_app

from conftest import Backend


def _env(backend: Backend) -> dict[str, str | None]:
    return {
        "WORKTRACK_DATABASE_URL": backend.url,
        "WORKTRACK_HOME": str(backend.home),
        "WORKTRACK_REPO": str(backend.repo),
    }


def _finished_task(backend: Backend, days_ago: int) -> str:
    """A completed task last changed ``days_ago`` days ago (by the real clock)."""
    then = datetime.now(UTC) - timedelta(days=days_ago)

    async def make() -> str:
        app = await open_app(backend.settings(), clock=lambda: then)
        try:
            made = await work_items.create_work_item(app, item_type="task", title="old")
            await work_items.update_work_item(app, id=made.id, version=1, status="completed")
            return made.id
        finally:
            await close_app(app)

    return asyncio.run(make())


def test_archive_command_dry_run_then_for_real(backend: Backend) -> None:
    old, recent = _finished_task(backend, 400), _finished_task(backend, 30)
    runner = CliRunner(env=_env(backend))

    preview = runner.invoke(cli, ["archive", "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert preview.stdout.split() == [old]
    assert "would move 1 work item to" in preview.stderr

    done = runner.invoke(cli, ["archive", "--older-than-days", "10"])
    assert done.exit_code == 0, done.output
    assert sorted(done.stdout.split()) == sorted([old, recent])
    assert "moved 2 work items" in done.stderr
    assert runner.invoke(cli, ["archive"]).stdout == ""


def test_archive_command_refuses_a_negative_age(backend: Backend) -> None:
    refused = CliRunner(env=_env(backend)).invoke(cli, ["archive", "--older-than-days", "-1"])
    assert refused.exit_code == 2 and "older-than-days" in refused.stderr
