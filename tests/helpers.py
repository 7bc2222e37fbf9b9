"""Calling tools the way a client does, and reading their results and errors."""

from __future__ import annotations

import json
from typing import Any

from fastmcp import Client


async def call(client: Client[Any], tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def fail(client: Client[Any], tool: str, **arguments: Any) -> dict[str, Any]:
    """Call a tool that must fail; return the contract's error object."""
    result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert result.is_error, f"{tool} unexpectedly succeeded: {result.structured_content}"
    error: dict[str, Any] = json.loads(result.content[0].text)  # type: ignore[union-attr]
    assert set(error) == {"error", "message", "details"}
    return error


PROJECT_META = {"description": "the project"}
SESSION_META = {
    "token_budget": 50_000,
    "prompts_count": 0,
    "yaml_frontmatter": {"schema_version": "1.0"},
}


async def project(client: Client[Any], title: str = "Project", **extra: Any) -> dict[str, Any]:
    return await call(
        client, "create_work_item", item_type="project", title=title, metadata=PROJECT_META, **extra
    )


async def task(
    client: Client[Any], title: str, parent: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    if parent is not None:
        extra["parent_id"] = parent["id"]
    return await call(client, "create_work_item", item_type="task", title=title, **extra)
