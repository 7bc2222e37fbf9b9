"""Start-up loads only what serving needs (issue 15: cold start): a server on a schema
already at head answers its first call without importing alembic, GitPython or jinja2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from worktrack import migrations

from conftest import Backend

_SCRIPT = """
import asyncio, sys
from fastmcp import Client
import worktrack.cli
from worktrack.server import create_server
from worktrack.settings import Settings

async def main():
    async with Client(create_server(Settings())) as client:
        result = await client.call_tool_mcp("list_vendors", {})
        assert not result.is_error, result
asyncio.run(main())
print("imported:" + ",".join(sorted(m for m in ("alembic", "git", "jinja2") if m in sys.modules)))
"""


def test_a_start_at_head_imports_no_alembic_git_or_jinja2(backend: Backend) -> None:
    settings = backend.settings()
    env = {
        "WORKTRACK_DATABASE_URL": settings.effective_database_url,
        "WORKTRACK_HOME": str(settings.home_dir),
        "WORKTRACK_REPO": str(settings.repo),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        env=env,
        cwd=str(Path(settings.home_dir).parent),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "imported:"


def test_the_head_read_off_the_files_is_alembics() -> None:
    assert migrations._head_from_files() == migrations._head_from_alembic()
    assert migrations.head_revision() == migrations._head_from_alembic()
