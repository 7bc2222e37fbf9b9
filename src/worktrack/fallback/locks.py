"""Lock files held across awaits, taken in a thread (filelock blocks)."""

from __future__ import annotations

import asyncio
from typing import Any

from filelock import FileLock, Timeout


async def acquire(lock: FileLock, wait: float) -> bool:
    """Take the lock file in a thread. A caller cancelled meanwhile (a server shutting
    down) does not leave it taken: the lock goes back as soon as the thread has it."""
    taking = asyncio.ensure_future(asyncio.to_thread(lock.acquire, timeout=wait))
    try:
        await asyncio.shield(taking)
    except Timeout:
        return False
    except asyncio.CancelledError:
        taking.add_done_callback(lambda done: _give_back(lock, done))
        raise
    return True


def _give_back(lock: FileLock, taking: asyncio.Future[Any]) -> None:
    if not taking.cancelled() and taking.exception() is None:
        lock.release()
