"""What worktrack reads from the git repository (WORKTRACK_REPO), off the event loop.

GitPython keeps file handles and subprocesses per ``Repo``; each read opens the repository,
reads, and closes it, so a long-running server leaks nothing.

Values that reach a git command line come from callers, so ``git_argument`` refuses any
that git could take for an option (a leading ``-``, as in ``--output=/tmp/x``) or that
could split the command (NUL, newline); ``resolve_commit`` also ends the options with
``--end-of-options`` before the value. The committed status file is read by walking the
commit's tree, with no command line at all.
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

from worktrack.errors import ValidationError


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


def git_argument(value: str, field: str) -> str:
    """``value`` if it is safe as one git argument, else a ValidationError on ``field``."""
    if not value or value.startswith("-"):
        raise ValidationError(
            field, "must not be empty or start with '-' (git would read an option)"
        )
    if any(char in value for char in "\x00\n\r"):
        raise ValidationError(field, "must not contain NUL or line breaks")
    return value


def _resolve_commit(repo: Path, ref: str) -> str | None:
    opened = _open(repo)
    if opened is None:
        return None
    try:
        found: str = opened.git.rev_parse(
            "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}"
        )
        return found.strip() or None
    except git.GitCommandError:
        return None
    finally:
        opened.close()


async def resolve_commit(repo: Path, ref: str, field: str = "commit_hash") -> str | None:
    """The full hash ``ref`` (a short hash, branch or tag) names in ``repo``, or None."""
    return await asyncio.to_thread(_resolve_commit, repo, git_argument(ref, field))
