"""Every path worktrack writes stays inside the repository or WORKTRACK_HOME, symlinks
followed (reliability matrix M5): the status file, the tool that writes it and
``worktrack report --output``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from worktrack import paths
from worktrack.errors import ValidationError
from worktrack.server import create_server
from worktrack.settings import Settings

from conftest import Backend
from helpers import call, fail

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A repository, a state folder beside it, and places outside both."""
    repo, home, outside = tmp_path / "project", tmp_path / "state", tmp_path / "outside"
    for folder in (repo, home, outside, tmp_path / "project-evil"):
        folder.mkdir()
    (repo / "out-link").symlink_to(outside, target_is_directory=True)
    (repo / "file-link.md").symlink_to(outside / "target.md")  # dangling until written
    (repo / "inner").mkdir()
    (repo / "inner" / "up-link").symlink_to(repo / "inner", target_is_directory=True)
    return {"repo": repo, "home": home, "outside": outside, "root": tmp_path}


def snapshot(root: Path) -> dict[str, int]:
    return {str(p): p.lstat().st_mtime_ns for p in root.rglob("*")}


ESCAPES = [
    "../outside/status.md",
    "../project-evil/status.md",
    "out-link/status.md",
    "file-link.md",
    "inner/up-link/../../../outside/x.md",
    "/etc/worktrack-status.md",
]


@pytest.mark.parametrize("escape", ESCAPES)
def test_paths_outside_the_roots_are_refused(layout: dict[str, Path], escape: str) -> None:
    before = snapshot(layout["root"])
    target = layout["repo"] / escape if not escape.startswith("/") else Path(escape)
    with pytest.raises(ValidationError) as refused:
        paths.confine(target, (layout["repo"], layout["home"]), "--output")
    assert refused.value.field == "--output" and "outside" in refused.value.constraint
    assert snapshot(layout["root"]) == before


@pytest.mark.parametrize(
    ("name", "rule"),
    [("nul\x00.md", "NUL"), ("n" * 300 + ".md", "longer than 255"), ("d/" * 2100, "4096")],
    ids=["nul", "long-name", "long-path"],
)
def test_unusable_names_are_refused_clearly(layout: dict[str, Path], name: str, rule: str) -> None:
    with pytest.raises(ValidationError, match=rule):
        paths.confine(layout["repo"] / name, (layout["repo"],), "--output")


@pytest.mark.parametrize(
    "inside",
    ["status.md", "docs/new/status.md", "inner/up-link/status.md", "..\\x.md", "./a/../b.md"],
)
def test_paths_inside_the_repository_resolve(layout: dict[str, Path], inside: str) -> None:
    confined = paths.confine(layout["repo"] / inside, (layout["repo"],), "--output")
    assert confined.is_relative_to(layout["repo"]) and ".." not in confined.parts


def test_the_home_folder_is_a_root_too(layout: dict[str, Path]) -> None:
    settings = Settings(repo=layout["repo"], home=layout["home"])
    assert paths.roots(settings) == (layout["repo"], layout["home"])
    assert (
        paths.confine(layout["home"] / "s.md", paths.roots(settings), "x").parent == layout["home"]
    )


async def test_the_report_tool_refuses_a_status_file_outside(
    backend: Backend, layout: dict[str, Path]
) -> None:
    outside = layout["outside"] / "status.md"
    settings = backend.settings(repo=layout["repo"], status_file=outside)
    async with Client(create_server(settings)) as client:
        error = await fail(client, "generate_status_report", write_file=True)
        assert error["error"] == "ValidationError"
        assert error["details"]["field"] == "WORKTRACK_STATUS_FILE"
        assert (await call(client, "generate_status_report"))["markdown"].startswith("#")
    assert not outside.exists()


async def test_a_symlinked_status_file_pointing_outside_is_refused(
    backend: Backend, layout: dict[str, Path]
) -> None:
    target = layout["outside"] / "target.md"
    target.write_text("untouched\n")
    settings = backend.settings(repo=layout["repo"], status_file=layout["repo"] / "file-link.md")
    async with Client(create_server(settings)) as client:
        error = await fail(client, "generate_status_report", write_file=True)
    assert "outside" in error["message"]
    assert target.read_text() == "untouched\n"


async def test_the_default_status_file_is_written_inside(backend: Backend) -> None:
    async with Client(create_server(backend.settings())) as client:
        written: dict[str, Any] = await call(client, "generate_status_report", write_file=True)
    assert Path(written["path"]).is_relative_to(backend.repo.resolve())


@pytest.mark.parametrize("escape", ["../outside/r.md", "out-link/r.md", "/tmp/../etc/r.md"])
def test_report_output_is_confined(layout: dict[str, Path], escape: str) -> None:
    before = snapshot(layout["root"])
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(layout["root"]),
        "WORKTRACK_REPO": str(layout["repo"]),
        "WORKTRACK_HOME": str(layout["home"]),
    }
    done = subprocess.run(
        [WORKTRACK, "report", "--output", escape],
        cwd=layout["repo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "--output" in done.stderr and "outside" in done.stderr
    created = set(snapshot(layout["root"])) - set(before)
    assert all(Path(p).is_relative_to(layout["home"]) for p in created)  # only the database
