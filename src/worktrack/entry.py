"""The ``worktrack`` command's entry point.

Importing the CLI (typer, settings, SQLAlchemy) makes tens of thousands of objects that
live as long as the process; collecting while they are made only re-walks them (70 ms of
a server's start). ``serve`` keeps collection off until start-up is done and frozen."""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    try:
        from worktrack.cli import app
    finally:
        gc.enable()
    app(prog_name="worktrack")
