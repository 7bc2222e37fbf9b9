"""The status file on disk: replaced atomically, changed by one process at a time.

A writer takes a lock on a separate file (never the data file: closing any descriptor of a
file drops the process's POSIX locks on it) kept in the state folder, never beside the
file (``lock_path``: the repository stays clean), then writes a uniquely named temp
file in the same directory, fsyncs it, renames it over the file and fsyncs the directory.
A reader therefore sees the old or the new content, never a mix, even if a writer is
killed halfway; what a killed writer leaves behind is a stray temp file, removed by the
next writer (under the lock, so no live writer's temp file can be taken for one).

A lock path that cannot be a lock (a directory, a symlink: filelock opens it with
``O_NOFOLLOW``) is an ``UnavailableError`` that says which path and what to do.

Blocking file I/O: call it through ``asyncio.to_thread`` from async code.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import hashlib
import os
import stat
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from worktrack.errors import UnavailableError

if TYPE_CHECKING:
    from filelock import BaseFileLock

LOCK_TIMEOUT_SECONDS = 5.0
_TEMP_SUFFIX = ".tmp"
_NEW_FILE_MODE = 0o644  # a status file is shared and committed, not private


def lock_path(path: Path, home: Path) -> Path:
    """Where the writer lock of ``path`` lives: ``<home>/locks/``, named after the file and
    a digest of its full path, so every process sharing ``home`` uses the same one."""
    digest = hashlib.sha256(os.fsencode(path.absolute())).hexdigest()[:16]
    return home / "locks" / f"{path.name[:100]}.{digest}.lock"


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def read(path: Path) -> str | None:
    """The file's text, or None if there is no file. Bytes that are not UTF-8 become U+FFFD,
    which the parser reports (a file written here never holds a raw one)."""
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None


def write_atomically(path: Path, text: str, *, lock: Path) -> None:
    update(path, lambda _old: text, lock=lock)


def update(
    path: Path,
    change: Callable[[str | None], str],
    *,
    lock: Path,
    timeout: float = LOCK_TIMEOUT_SECONDS,
) -> str:
    """Read the file, pass its text (None if absent) to ``change`` and write what it returns,
    all under ``lock``, so concurrent read-modify-write cycles never lose an update."""
    held = _lock(path, lock, timeout)
    _acquire(path, held)
    try:
        text = change(read(path))
        replace(path, text)
        return text
    finally:
        held.release()


@contextlib.asynccontextmanager
async def locked(
    path: Path, *, lock: Path, timeout: float = LOCK_TIMEOUT_SECONDS
) -> AsyncIterator[None]:
    """Hold the file's writer lock across async work (acquired and released in threads)."""
    held = _lock(path, lock, timeout)
    await asyncio.to_thread(_acquire, path, held)
    try:
        yield
    finally:
        await asyncio.to_thread(held.release)


def _lock(path: Path, lock: Path, timeout: float) -> BaseFileLock:
    from filelock import FileLock  # on first write: not needed to start serving

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _cannot(path, f"cannot create its folders: {error.strerror or error}") from None
    return FileLock(lock, timeout=timeout, thread_local=False)


def _acquire(path: Path, lock: BaseFileLock) -> None:
    from filelock import Timeout

    try:
        lock.acquire()
    except Timeout:
        raise _cannot(path, "it stayed locked by another writer", "lock timeout") from None
    except OSError as error:  # a directory, a symlink, a folder without write access
        reason = f"cannot take its lock {lock.lock_file}: {_lock_problem(lock.lock_file, error)}"
        raise _cannot(path, reason) from None


def _lock_problem(lock: str, error: OSError) -> str:
    for kind, found in (("a symlink", os.path.islink), ("a directory", os.path.isdir)):
        if found(lock):
            return f"it is {kind}; remove it (worktrack makes a new lock file)"
    return error.strerror or str(error)


def _cannot(path: Path, why: str, layer_reason: str | None = None) -> UnavailableError:
    return UnavailableError(
        f"cannot write {path}: {why}", layers={"markdown_file": layer_reason or why}
    )


def replace(path: Path, text: str) -> None:
    """Write ``text`` atomically; the caller holds the lock (``update``, ``locked``)."""
    try:
        _remove_stray_temps(path)
        _replace(path, text.encode("utf-8"))
    except OSError as error:
        raise UnavailableError(
            f"cannot write {path}: {error.strerror or error}",
            layers={"markdown_file": str(error)},
        ) from error


def _replace(path: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=_temp_prefix(path), suffix=_TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), _mode_of(path))
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    _fsync_directory(path.parent)


def _mode_of(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return _NEW_FILE_MODE


def _fsync_directory(directory: Path) -> None:
    # The rename is atomic at once but durable only once the directory entry is on disk.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def stray_temps(path: Path) -> list[Path]:
    """Temp files a killed writer left next to ``path`` (removed by the next write)."""
    return sorted(path.parent.glob(glob.escape(_temp_prefix(path)) + "*" + _TEMP_SUFFIX))


def _remove_stray_temps(path: Path) -> None:
    for stray in stray_temps(path):
        with contextlib.suppress(FileNotFoundError):
            stray.unlink()
