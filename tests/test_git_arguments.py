"""No caller-supplied value reaches git as an option (reliability matrix M6)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from worktrack import gitrepo
from worktrack.errors import ValidationError
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
async def test_option_like_refs_are_refused(repo: Path, tmp_path: Path, value: str) -> None:
    with pytest.raises(ValidationError) as refused:
        await gitrepo.resolve_commit(repo, value, field="commit")
    assert refused.value.field == "commit"
    assert not Path("/tmp/worktrack-pwned").exists()
    assert not list(tmp_path.glob("**/*pwned*"))


@pytest.mark.parametrize("value", ["main", "HEAD", "feature/-dash-inside", "HEAD~0"])
def test_ordinary_refs_pass(value: str) -> None:
    assert gitrepo.git_argument(value, "ref") == value


async def test_refs_resolve_to_full_hashes(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    assert await gitrepo.resolve_commit(repo, head[:7]) == head
    assert await gitrepo.resolve_commit(repo, "main") == head
    assert await gitrepo.resolve_commit(repo, "no-such-ref") is None
    assert await gitrepo.resolve_commit(repo.parent / "nowhere", "main") is None


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
