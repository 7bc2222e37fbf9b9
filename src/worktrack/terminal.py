"""Progress bars for the command line: rich (typer's own), on stderr, and only when stderr
is a terminal; piped or redirected, long commands stay silent."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as Bar

from worktrack.progress import Progress, silent


def on_terminal() -> bool:
    return sys.stderr.isatty()


@contextmanager
def progress_bar(command: str) -> Iterator[Progress]:
    """A ``Progress`` drawn as a bar labelled ``command: step`` while the block runs (and
    cleared after it), or one that shows nothing when stderr is not a terminal."""
    if not on_terminal():
        yield silent
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Bar(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(command, total=None)

        async def report(done: int, total: int | None, step: str) -> None:
            bar.update(task, completed=done, total=total, description=f"{command}: {step}")

        yield report
