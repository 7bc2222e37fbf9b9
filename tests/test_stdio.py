"""The real server over stdio, spawned exactly as a client spawns it."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import StdioTransport

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))


def spawn(tmp_path: Path, env: dict[str, str], stdout_copy: Path) -> StdioTransport:
    """``worktrack serve`` with a copy of everything it writes to stdout."""
    command = f"{shlex.quote(WORKTRACK)} serve | tee {shlex.quote(str(stdout_copy))}"
    return StdioTransport(command="sh", args=["-c", command], env=env, cwd=str(tmp_path))


def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "WORKTRACK_HOME": str(tmp_path / "state"),
        "FASTMCP_LOG_LEVEL": "DEBUG",
    }


def assert_only_jsonrpc(stdout_copy: Path) -> int:
    lines = stdout_copy.read_text().splitlines()
    for line in lines:
        message: dict[str, Any] = json.loads(line)
        assert message["jsonrpc"] == "2.0"
    return len(lines)


async def test_stdio_server_speaks_only_jsonrpc_on_stdout(tmp_path: Path) -> None:
    copy = tmp_path / "stdout.jsonl"
    async with Client(spawn(tmp_path, base_env(tmp_path), copy)) as client:
        names = {tool.name for tool in await client.list_tools()}
        assert {"create_work_item", "query_work_item", "ready_work"} <= names
        made = await client.call_tool("create_work_item", {"item_type": "task", "title": "x"})
        assert made.structured_content is not None
        assert made.structured_content["data_source"] == "sqlite"
        bad = await client.call_tool(
            "create_work_item", {"item_type": "nope", "title": "x"}, raise_on_error=False
        )
        assert json.loads(bad.content[0].text)["error"] == "ValidationError"  # type: ignore[union-attr]
    assert (tmp_path / "state" / "worktrack.db").exists()  # created and migrated on start
    assert assert_only_jsonrpc(copy) >= 3
