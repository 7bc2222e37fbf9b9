"""Lock files taken in a thread: a caller cancelled while waiting never leaves one taken."""

from __future__ import annotations

import asyncio
from pathlib import Path

from filelock import FileLock

from worktrack.fallback import locks


async def test_a_lock_taken_after_its_caller_was_cancelled_is_given_back(tmp_path: Path) -> None:
    path = tmp_path / "x.lock"
    holder = FileLock(path, thread_local=False)
    holder.acquire()
    waiter = FileLock(path, thread_local=False)
    waiting = asyncio.create_task(locks.acquire(waiter, 10))
    await asyncio.sleep(0.2)
    waiting.cancel()  # a server shutting down while its refresh waits
    holder.release()  # the waiting thread takes the lock now, for nobody
    later = FileLock(path, thread_local=False)
    assert await locks.acquire(later, 10) is True
    assert waiting.cancelled() and not waiter.is_locked
    later.release()


async def test_a_lock_held_elsewhere_is_not_taken_within_the_wait(tmp_path: Path) -> None:
    holder = FileLock(tmp_path / "y.lock", thread_local=False)
    holder.acquire()
    try:
        assert await locks.acquire(FileLock(tmp_path / "y.lock", thread_local=False), 0) is False
    finally:
        holder.release()
