"""The legacy fixture copied per test, fingerprints of files, snapshots of a database."""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from worktrack.startup import close_app, open_app
from worktrack.tables import metadata

from conftest import Backend

FIXTURE = Path(__file__).parents[1] / "fixtures" / "legacy"  # the legacy layout's sample files
EXPECTED: dict[str, Any] = json.loads((FIXTURE / "expected.json").read_text(encoding="utf-8"))
STATUS_TEXT = (FIXTURE / ".project_status.md").read_text(encoding="utf-8")


def copy_fixture(tmp_path: Path, edit: Callable[[str], str] | None = None) -> tuple[Path, Path]:
    """The fixture's status file (edited, if asked) and prompts directory, in ``tmp_path``."""
    target = tmp_path / "legacy"
    shutil.copytree(FIXTURE, target)
    status = target / ".project_status.md"
    if edit is not None:
        edited = edit(STATUS_TEXT)
        assert edited != STATUS_TEXT, "the edit changed nothing"
        status.write_text(edited, encoding="utf-8")
    return status, target / "prompts"


def line_of(text: str, line: str) -> int:
    return text.split("\n").index(line) + 1


def fingerprints(root: Path) -> dict[str, str]:
    """SHA-256 of every file below ``root`` (dotfiles too), by relative path."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


async def snapshot(backend: Backend) -> dict[str, list[str]]:
    """Every row of every table, as sorted text: equal snapshots mean an unchanged database."""
    app = await open_app(backend.settings())
    try:

        async def rows(conn: Any) -> dict[str, list[str]]:
            found = {}
            for table in metadata.sorted_tables:
                result = await conn.execute(select(table))
                found[table.name] = sorted(repr(tuple(row)) for row in result)
            return found

        taken: dict[str, list[str]] = await app.db.run(rows)
        return taken
    finally:
        await close_app(app)
