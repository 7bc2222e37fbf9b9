"""How long work says how far it has got: a callback the command line turns into a
progress bar and the MCP server into progress notifications (``Context.report_progress``).

Services take a ``Progress`` and call it with what is done of what total, and what the
step is; they never know who, if anyone, is watching.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    async def __call__(self, done: int, total: int | None, step: str) -> None: ...


async def silent(done: int, total: int | None, step: str) -> None:
    """Nobody watches."""
