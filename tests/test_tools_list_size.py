"""``tools/list`` stays affordable: every byte of it is paid on each session's first turn.

Measured as ``worktrack bench`` measures it (the result as sent, four characters a token)."""

from __future__ import annotations

from fastmcp import Client

from worktrack.bench.report import tokens
from worktrack.server import create_server

from conftest import Backend

ALL_TOOLS_BUDGET = 8_000  # tokens: contract §4 "Tools stay lean"


async def _listed_tokens(backend: Backend, **overrides: object) -> int:
    async with Client(create_server(backend.settings(**overrides))) as client:
        listed = await client.list_tools_mcp()
    return tokens(len(listed.model_dump_json(by_alias=True, exclude_none=True)))


async def test_tools_list_of_all_tools_is_under_eight_thousand_tokens(backend: Backend) -> None:
    every = await _listed_tokens(backend)
    work_items = await _listed_tokens(backend, toolsets=("work_items",))
    print(f"tools/list: all tools {every} tokens, work_items {work_items}")
    assert 0 < work_items < every < ALL_TOOLS_BUDGET


async def test_every_tool_description_is_one_sentence(backend: Backend) -> None:
    async with Client(create_server(backend.settings())) as client:
        for tool in await client.list_tools():
            description = tool.description or ""
            assert description and "\n" not in description, tool.name
            assert description.rstrip(".").count(". ") == 0, tool.name
