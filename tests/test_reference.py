"""The repository documents itself: docs/reference.md matches the code, and nothing in the
repository points at files outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from worktrack import reference

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "docs" / "reference.md"


def test_the_reference_lists_every_tool_and_command_as_the_code_defines_them() -> None:
    text = REFERENCE.read_text(encoding="utf-8")
    sections = reference.fresh_sections()
    assert reference.render(text, sections) == text, (
        "docs/reference.md is out of date: run python -m worktrack.reference docs/reference.md"
    )
    tools = asyncio_tools()
    for tool in tools:
        assert f"#### `{tool}`" in text
    for command in ("serve", "report", "sync", "archive", "health", "import-legacy"):
        assert f"#### `worktrack {command}`" in text


def asyncio_tools() -> list[str]:
    import asyncio

    return [tool.name for tool in asyncio.run(reference.listed_tools())]


def test_a_generated_section_is_replaced_and_the_rest_kept() -> None:
    document = "intro\n<!-- generated:tools -->\nold\n<!-- end:tools -->\noutro\n"
    assert reference.render(document, {"tools": "new"}) == (
        "intro\n<!-- generated:tools -->\n\nnew\n\n<!-- end:tools -->\noutro\n"
    )
    assert reference.render(document, {}) == document


def test_the_reference_command_rewrites_the_file(tmp_path: Path) -> None:
    target = tmp_path / "reference.md"
    target.write_text("<!-- generated:commands -->\n<!-- end:commands -->\n", encoding="utf-8")
    assert reference.main([str(target)]) == 0
    assert "#### `worktrack serve`" in target.read_text(encoding="utf-8")
    assert reference.main([]) == 2


# Paths that exist only on the machine this was built on, or in the brief it was built from.
# (Spelled in pieces, so this file does not match itself.)
_PIECES = ("../" + "shared", "shared/" + "CONTRACT", "CONTRACT" + ".md", "/work/" + "shared")
_OUTSIDE = re.compile("|".join(re.escape(piece) for piece in _PIECES))


def test_nothing_in_the_repository_points_outside_it() -> None:
    tracked = (
        subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        .stdout.decode()
        .split("\0")
    )
    offenders = []
    for name in filter(None, tracked):
        path = ROOT / name
        if not path.is_file() or path.suffix in {".png", ".db"}:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        offenders += [f"{name}: {m.group(0)}" for m in _OUTSIDE.finditer(text)]
    assert offenders == []
