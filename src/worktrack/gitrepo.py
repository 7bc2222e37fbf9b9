"""What worktrack reads from the git repository (WORKTRACK_REPO), off the event loop.

GitPython keeps file handles and subprocesses per ``Repo``; each read opens the repository,
reads, and closes it, so a long-running server leaks nothing.

No value from a caller can become a git option: the only one that reaches git, an
abbreviated commit hash from a legacy file, must be lower-case hex first; the committed
status file is read by walking the commit's tree, with no command line at all.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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


_ABBREVIATED = re.compile(r"[0-9a-f]{4,40}")


def _full_hashes(repo: Path, abbreviated: Sequence[str]) -> dict[str, str | None]:
    opened = _open(repo)
    if opened is None:
        return dict.fromkeys(abbreviated)
    try:
        return {short: _full_hash(opened, short) for short in abbreviated}
    finally:
        opened.close()


def _full_hash(opened: git.Repo, short: str) -> str | None:
    import git  # already loaded by _open, in this worker thread

    # Only lower-case hex reaches git: nothing it could read as an option or a ref name.
    if not _ABBREVIATED.fullmatch(short):
        return None
    try:
        found: str = opened.commit(short).hexsha
    except (ValueError, git.exc.ODBError):  # no such object, not a commit, or ambiguous
        return None
    return found


async def full_hashes(repo: Path, abbreviated: Sequence[str]) -> dict[str, str | None]:
    """Each abbreviated hash's full commit hash, or None where it names no commit or more
    than one (or ``repo`` is not a repository). One repository open for all of them."""
    return await asyncio.to_thread(_full_hashes, repo, abbreviated)


@dataclass(frozen=True)
class CommittedFile:
    text: str
    commit: str
    committed_at: datetime


def _read_committed(repo: Path, path: Path) -> CommittedFile | None:
    opened = _open(repo)
    if opened is None:
        return None
    try:
        if not opened.head.is_valid() or opened.working_tree_dir is None:
            return None
        try:
            relative = path.resolve().relative_to(Path(opened.working_tree_dir).resolve())
        except ValueError:
            return None  # the status file lives outside the repository
        # Walked through the commit's tree, not a git command line: nothing in the path can
        # be taken for an option.
        commit = opened.head.commit
        try:
            blob = commit.tree / relative.as_posix()
        except KeyError:
            return None
        data: bytes = blob.data_stream.read()
        text = data.decode("utf-8", errors="replace")
        return CommittedFile(text, commit.hexsha, commit.committed_datetime.astimezone(UTC))
    finally:
        opened.close()


async def committed_file(repo: Path, path: Path) -> CommittedFile | None:
    """``path`` as committed at HEAD of the repository holding it, or None."""
    return await asyncio.to_thread(_read_committed, repo, path)
