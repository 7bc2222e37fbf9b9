"""Real servers for the browser tests, Debian's Chromium driven by Playwright, and a seeded
database for them to show."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from worktrack.services.app import App
from worktrack.settings import Settings
from worktrack.startup import close_app, open_app

from httpserver import listening_port, stop

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))
CHROMIUM = "/usr/bin/chromium"  # Debian's package: Playwright's own download is not reachable


def environment(tmp: Path, **extra: str) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k.startswith(("PATH", "COVERAGE"))},
        "HOME": str(tmp),
        "WORKTRACK_HOME": str(tmp / "state"),
        "WORKTRACK_REPO": str(tmp),
        **extra,
    }


def seed_database(tmp: Path, fill: Callable[[App], Any]) -> Any:
    """Open the embedded database the servers in ``tmp`` will use and fill it."""

    async def run() -> Any:
        app = await open_app(Settings(home=tmp / "state", repo=tmp))
        try:
            return await fill(app)
        finally:
            await close_app(app)

    # In a thread of its own: Playwright's sync API runs an event loop in this one.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(lambda: asyncio.run(run())).result()


class Process:
    """``worktrack <args>`` serving on a port it picked; output to files in ``tmp``."""

    def __init__(self, tmp: Path, args: list[str], env: dict[str, str]) -> None:
        self.tmp, self.args, self.env = tmp, args, env
        self.log_path = tmp / f"server-{len(list(tmp.glob('server-*.log')))}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> Process:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [WORKTRACK, *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.port = listening_port(self.process, self.log)
        return self

    def stop(self) -> None:
        stop(self.process)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"
