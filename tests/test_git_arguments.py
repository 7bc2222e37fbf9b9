"""No caller-supplied value reaches git as an option (reliability matrix M6)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from worktrack import gitrepo
from worktrack.server import create_server

from conftest import Backend
from helpers import call, fail

INJECTIONS = [
    "--output=/tmp/worktrack-pwned",
    "-o/tmp/worktrack-pwned",
    "--upload-pack=touch /tmp/worktrack-pwned",
    "-",
    "",
    "HEAD\n--output=/tmp/worktrack-pwned",
    "HEAD\x00--output=x",
    "HEAD\r-x",
]


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "gitrepo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "README").write_text("x\n")
    git(path, "add", "README")
    git(path, "commit", "-q", "-m", "first")
    return path


@pytest.mark.parametrize("value", INJECTIONS, ids=range(len(INJECTIONS)))
async def test_option_like_hashes_never_reach_git(repo: Path, tmp_path: Path, value: str) -> None:
    assert await gitrepo.full_hashes(repo, [value]) == {value: None}
    assert not Path("/tmp/worktrack-pwned").exists()
    assert not list(tmp_path.glob("**/*pwned*"))


async def test_short_hashes_resolve_to_full_ones(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    found = await gitrepo.full_hashes(repo, [head[:7], "0000000", "HEAD", "main"])
    assert found == {head[:7]: head, "0000000": None, "HEAD": None, "main": None}
    assert await gitrepo.full_hashes(repo.parent / "nowhere", [head[:7]]) == {head[:7]: None}


async def test_a_status_file_named_like_an_option_is_read_from_the_tree(repo: Path) -> None:
    path = repo / "--output=x.md"
    path.write_text("# Project Status - 2026-12-02T00:00:00+00:00\n")
    git(repo, "add", "--", path.name)
    git(repo, "commit", "-q", "-m", "status")
    (found,) = await gitrepo.committed_versions(repo, path, 100)
    text = await gitrepo.blob_text(repo, found.blob)
    assert text is not None and text.startswith("# Project Status")
    assert not (repo / "x.md").exists()


async def test_tool_arguments_never_reach_git_as_options(backend: Backend, repo: Path) -> None:
    async with Client(create_server(backend.settings(repo=repo))) as client:
        for value in INJECTIONS[:3]:
            error = await fail(client, "record_deployment", commit_hash=value, metadata={})
            assert error["details"]["field"] == "commit_hash"
        config: dict[str, Any] = await call(client, "get_project_configuration")
        stored = await call(
            client,
            "update_project_configuration",
            version=config["version"],
            git_branch="--upload-pack=touch /tmp/worktrack-pwned",
        )
        assert stored["git_branch"] == "--upload-pack=touch /tmp/worktrack-pwned"  # text only
        live = (await call(client, "get_project_configuration"))["git_live"]
        assert live == {
            "branch": "main",
            "head_commit": git(repo, "rev-parse", "HEAD"),
            "dirty": False,
        }
    assert not Path("/tmp/worktrack-pwned").exists()
