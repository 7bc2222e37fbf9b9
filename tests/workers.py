"""Code that runs in other processes or as other clients during concurrency tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastmcp import Client

from worktrack.server import create_server
from worktrack.settings import Settings


async def append_tokens(
    settings: Settings, item_id: str, client_no: int, updates: int
) -> dict[str, Any]:
    """Append ``updates`` unique tokens to an item's references, retrying on conflicts."""
    done: list[str] = []
    conflicts = 0
    async with Client(create_server(settings)) as client:
        while len(done) < updates:
            read = await client.call_tool(
                "query_work_item", {"id": item_id, "include_children": False}
            )
            item = read.structured_content
            assert isinstance(item, dict)
            token = f"c{client_no}-{len(done)}"
            references = [*item["metadata"].get("references", []), token]
            result = await client.call_tool(
                "update_work_item",
                {"id": item_id, "version": item["version"], "metadata": {"references": references}},
                raise_on_error=False,
            )
            if result.is_error:
                error = json.loads(result.content[0].text)  # type: ignore[union-attr]
                assert error["error"] == "VersionConflictError", error
                conflicts += 1
            else:
                done.append(token)
    return {"tokens": done, "conflicts": conflicts}


def append_tokens_in_process(
    url: str, home: str, repo: str, item_id: str, client_no: int, updates: int
) -> dict[str, Any]:
    settings = Settings(database_url=url, home=home, repo=repo)
    return asyncio.run(append_tokens(settings, item_id, client_no, updates))
