"""What worktrack reads from the git repository (WORKTRACK_REPO), off the event loop.

GitPython keeps file handles and subprocesses per ``Repo``; each read opens the repository,
reads, and closes it, so a long-running server leaks nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import git


@dataclass(frozen=True)
class GitState:
    branch: str | None  # None on a detached HEAD
    head_commit: str
    dirty: bool


def _open(repo: Path) -> git.Repo | None:
    # Imported here, in the worker thread: GitPython costs ~50 ms of a server's cold
    # start, and most calls never read the repository.
    import git

    try:
        return git.Repo(repo, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def _read_state(repo: Path) -> GitState | None:
    opened = _open(repo)
    if opened is None:
        return None
    try:
        if not opened.head.is_valid():  # a repository without commits
            return None
        branch = None if opened.head.is_detached else opened.active_branch.name
        return GitState(branch, opened.head.commit.hexsha, opened.is_dirty())
    finally:
        opened.close()


async def state(repo: Path) -> GitState | None:
    """Branch, HEAD commit and dirtiness now, or None outside a repository."""
    return await asyncio.to_thread(_read_state, repo)


def _read_head(repo: Path) -> str | None:
    opened = _open(repo)
    if opened is None:
        return None
    try:
        return opened.head.commit.hexsha if opened.head.is_valid() else None
    finally:
        opened.close()


async def head_commit(repo: Path) -> str | None:
    """The HEAD commit now, or None outside a repository (cheaper than ``state``)."""
    return await asyncio.to_thread(_read_head, repo)
