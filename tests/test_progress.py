"""Long work says how far it has got: a progress bar on a terminal (and nothing when stderr
is not one), MCP progress notifications and log messages for the long tool calls."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from mcp.types import LoggingMessageNotificationParams

from worktrack.server import create_server
from worktrack.services import archive, reports

from conftest import Backend, Clock
from helpers import call, project, task

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))
LEGACY = Path(__file__).parent / "fixtures" / "legacy" / ".project_status.md"


def _env(tmp_path: Path) -> dict[str, str]:
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "WORKTRACK_HOME": str(tmp_path / "home"),
        "WORKTRACK_REPO": str(repo),
        "COLUMNS": "100",
    }


def _on_a_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stderr on a pseudo-terminal; what it drew there."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=follower
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    return process.wait(timeout=120), drawn.decode("utf-8", errors="replace")


@pytest.mark.slow
def test_commands_draw_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    env = _env(tmp_path)
    for command, label in (
        (["import-legacy", str(LEGACY)], "import-legacy: "),
        (["export", "--output", str(tmp_path / "out.jsonl")], "export: "),
        (["archive", "--older-than-days", "0"], "archive: "),
    ):
        code, drawn = _on_a_terminal([WORKTRACK, *command], env)
        assert code == 0, drawn
        assert label in drawn and "\x1b[" in drawn, drawn  # drawn, then cleared


@pytest.mark.slow
def test_commands_are_silent_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    env = _env(tmp_path)
    said = []
    for command in (
        ["import-legacy", str(LEGACY)],
        ["export", "--output", str(tmp_path / "out.jsonl")],
        ["import", str(tmp_path / "out.jsonl")],  # refused: the database holds the import
        ["archive", "--older-than-days", "0"],
    ):
        done = subprocess.run(
            [WORKTRACK, *command], env=env, capture_output=True, text=True, timeout=120
        )
        said.append(done.stderr)
        assert "\x1b[" not in done.stderr and "━" not in done.stderr, done.stderr
    assert re.fullmatch(rf"exported \d+ rows from sqlite to {tmp_path}/out.jsonl\n", said[1])
    assert "already holds" in said[2] and len(said[2].splitlines()) == 1


class _Heard:
    def __init__(self) -> None:
        self.progress: list[tuple[float, float | None, str | None]] = []
        self.logs: list[tuple[str, str]] = []

    async def on_progress(self, done: float, total: float | None, message: str | None) -> None:
        self.progress.append((done, total, message))

    async def on_log(self, message: LoggingMessageNotificationParams) -> None:
        data: Any = message.data
        self.logs.append((message.level, data["msg"] if isinstance(data, dict) else str(data)))


async def test_archiving_reports_progress_and_logs_its_steps(
    backend: Backend, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "BATCH_SIZE", 1)
    heard = _Heard()
    server = create_server(backend.settings(), clock=clock)
    async with Client(server, progress_handler=heard.on_progress, log_handler=heard.on_log) as c:
        root = await project(c)
        for n in range(3):
            item = await task(c, f"t{n}", root)
            await call(c, "update_work_item", id=item["id"], version=1, status="completed")
        clock.advance(days=400)
        done = await call(c, "archive_work_items")
    assert done["archived_count"] == 3
    assert heard.progress == [
        (0, None, "finding finished work items"),
        (1, 3, "archiving"),
        (2, 3, "archiving"),
        (3, 3, "archived 3 work items"),
    ]
    assert heard.logs == [
        ("info", "finding finished work items"),
        ("info", "archiving"),
        ("info", "archived 3 work items"),
    ]


async def test_a_large_status_report_reports_progress_and_a_small_one_does_not(
    backend: Backend, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard = _Heard()
    server = create_server(backend.settings(), clock=clock)
    async with Client(server, progress_handler=heard.on_progress, log_handler=heard.on_log) as c:
        root = await project(c)
        await task(c, "one", root)
        await call(c, "generate_status_report", detail="full")
        assert heard.progress == [] and heard.logs == []  # 2 rows: nothing worth telling
        monkeypatch.setattr(reports, "LARGE_REPORT_ROWS", 2)
        await call(c, "generate_status_report", detail="full")
    assert heard.progress == [
        (1, 2, "read 2 rows for the status report"),
        (2, 2, "rendered the status report"),
    ]
    assert heard.logs == []  # a read reports progress; it has nothing to log
