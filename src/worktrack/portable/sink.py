"""Where ``worktrack export`` writes: stdout, or a file replaced atomically when the export
is complete (a failed export leaves no half-written file behind)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import BinaryIO

Write = Callable[[list[str]], Awaitable[None]]


class OutputClosed(Exception):
    """Whoever read the export stopped reading (``worktrack export | head``)."""


def _writer(stream: BinaryIO) -> Write:
    async def write(lines: list[str]) -> None:
        data = "".join(f"{line}\n" for line in lines).encode()
        try:
            await asyncio.to_thread(stream.write, data)
        except BrokenPipeError:  # not a failing database, which an OSError would say
            raise OutputClosed from None

    return write


@contextlib.contextmanager
def export_sink(output: Path | None) -> Iterator[Write]:
    if output is None:
        yield _writer(sys.stdout.buffer)
        try:
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            raise OutputClosed from None
        return
    temporary = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        with temporary.open("wb") as stream:
            yield _writer(stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, output)
    finally:
        temporary.unlink(missing_ok=True)
