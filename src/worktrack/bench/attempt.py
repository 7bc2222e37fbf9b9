"""A benchmark run never crashes on one failing part: the part becomes a line saying why,
and the rest still runs."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")
_LONGEST = 300


def reason(error: BaseException) -> str:
    """The error in one line: its type and the first line of its message."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    said = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return said if len(said) <= _LONGEST else said[: _LONGEST - 1] + "…"


async def attempt(failures: dict[str, str], part: str, work: Awaitable[T]) -> T | None:
    """``work``'s result; or None, with why it failed kept in ``failures`` under ``part``."""
    try:
        return await work
    except Exception as error:  # any failure of one part: recorded, and the run goes on
        failures[part] = reason(error)
        return None
