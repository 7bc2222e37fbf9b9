"""The real server over stdio, spawned exactly as a client spawns it."""

from __future__ import annotations

import json
from pathlib import Path

from fastmcp import Client

from helpers import assert_only_jsonrpc, base_env, spawn


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
