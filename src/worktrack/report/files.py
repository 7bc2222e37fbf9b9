"""The status file on disk: replaced atomically, changed by one process at a time.

A writer takes a lock on a separate ``<name>.lock`` file (never the data file: closing any
descriptor of a file drops the process's POSIX locks on it), writes a uniquely named temp
file in the same directory, fsyncs it, renames it over the file and fsyncs the directory.
A reader therefore sees the old or the new content, never a mix, even if a writer is
killed halfway; what a killed writer leaves behind is a stray temp file, removed by the
next writer (under the lock, so no live writer's temp file can be taken for one).

Blocking file I/O: call it through ``asyncio.to_thread`` from async code.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import stat
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from worktrack.errors import UnavailableError

LOCK_TIMEOUT_SECONDS = 5.0
_TEMP_SUFFIX = ".tmp"
_NEW_FILE_MODE = 0o644  # a status file is shared and committed, not private


def lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def read(path: Path) -> str | None:
    """The file's text, or None if there is no file. Bytes that are not UTF-8 become U+FFFD,
    which the parser reports (a file written here never holds a raw one)."""
    try:
        return path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None


def write_atomically(path: Path, text: str) -> None:
    update(path, lambda _old: text)


def update(
    path: Path, change: Callable[[str | None], str], timeout: float = LOCK_TIMEOUT_SECONDS
) -> str:
    """Read the file, pass its text (None if absent) to ``change`` and write what it returns,
    all under the lock, so concurrent read-modify-write cycles never lose an update."""
    from filelock import FileLock, Timeout  # on first write: not needed to start serving

    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(lock_path(path), timeout=timeout):
            text = change(read(path))
            replace(path, text)
            return text
    except Timeout:
        raise _still_locked(path) from None


@contextlib.asynccontextmanager
async def locked(path: Path, timeout: float = LOCK_TIMEOUT_SECONDS) -> AsyncIterator[None]:
    """Hold the file's writer lock across async work (acquired and released in threads)."""
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(lock_path(path), timeout=timeout, thread_local=False)
    try:
        await asyncio.to_thread(lock.acquire)
    except Timeout:
        raise _still_locked(path) from None
    try:
        yield
    finally:
        await asyncio.to_thread(lock.release)


def _still_locked(path: Path) -> UnavailableError:
    return UnavailableError(
        f"{path} stayed locked by another writer",
        layers={"markdown_file": "lock timeout"},
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
