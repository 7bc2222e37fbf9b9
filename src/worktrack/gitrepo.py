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
class CommittedVersion:
    """One version of a file as committed: the newest commit (of those walked) holding it."""

    commit: str
    committed_at: datetime
    blob: str  # the file's object id: the same text in many commits is read once


def _committed_versions(repo: Path, path: Path, limit: int) -> list[CommittedVersion]:
    opened = _open(repo)
    if opened is None:
        return []
    try:
        if not opened.head.is_valid() or opened.working_tree_dir is None:
            return []
        try:
            relative = path.resolve().relative_to(Path(opened.working_tree_dir).resolve())
        except ValueError:
            return []  # the status file lives outside the repository
        found: list[CommittedVersion] = []
        known: set[str] = set()
        # Newest first, as ``git log`` lists them. The file is found by walking each
        # commit's tree, not by a git command line: nothing in the path can be taken for an
        # option.
        for commit in opened.iter_commits("HEAD", max_count=limit):
            try:
                blob = commit.tree / relative.as_posix()
            except (KeyError, TypeError):  # not in this commit (or a folder of that name)
                continue
            if blob.type != "blob" or blob.hexsha in known:
                continue
            known.add(blob.hexsha)
            at = commit.committed_datetime.astimezone(UTC)
            found.append(CommittedVersion(commit.hexsha, at, blob.hexsha))
        return found
    finally:
        opened.close()


async def committed_versions(repo: Path, path: Path, limit: int) -> list[CommittedVersion]:
    """The distinct versions of ``path`` in the last ``limit`` commits of HEAD, newest
    first; empty outside a repository or when no such commit holds the file."""
    return await asyncio.to_thread(_committed_versions, repo, path, limit)


def _read_blob(repo: Path, blob: str) -> str | None:
    opened = _open(repo)
    if opened is None:
        return None
    try:
        data: bytes = opened.odb.stream(bytes.fromhex(blob)).read()
    finally:
        opened.close()
    return data.decode("utf-8", errors="replace")


async def blob_text(repo: Path, blob: str) -> str | None:
    """A committed file's text by its object id (bytes that are not UTF-8 become U+FFFD)."""
    return await asyncio.to_thread(_read_blob, repo, blob)
