"""Matrix row C5: every mutation path that takes a version rejects a stale one and changes
nothing: each such tool (found in tools/list, so a new one cannot be missed) on both
databases, the same calls while Postgres is down (checked against the local replica, never
queued), and the replay of a queued call whose base moved on (test_queue_and_replay O2)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastmcp import Client

from conftest import Outage
from helpers import call, fail, project

Setup = Callable[[Client[Any]], Awaitable[tuple[dict[str, Any], str, dict[str, Any]]]]
VENDOR_META = {
    "format_support": {"excel": True, "csv": False, "pdf": False, "ocr": False},
    "test_results": {"passing": 1, "total": 1, "skipped": 0},
}


async def _work_item(client: Client[Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    item = await project(client, "versioned")
    await call(client, "update_work_item", id=item["id"], version=1, title="moved on")
    return {"id": item["id"], "title": "stale write"}, "query_work_item", {"id": item["id"]}


async def _vendor(client: Client[Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    await call(client, "create_vendor", name="v", extractor_version="1", metadata=VENDOR_META)
    await call(client, "update_vendor_status", name="v", version=1, status="broken")
    return {"name": "v", "status": "operational"}, "query_vendor_status", {"name": "v"}


async def _configuration(client: Client[Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    await call(client, "update_project_configuration", version=1, git_branch="first")
    return {"git_branch": "stale"}, "get_project_configuration", {}


async def _enhancement(client: Client[Any]) -> tuple[dict[str, Any], str, dict[str, Any]]:
    made = await call(client, "create_enhancement", title="e")
    await call(client, "update_enhancement", id=made["id"], version=1, title="moved on")
    return {"id": made["id"], "title": "stale"}, "list_enhancements", {}


STALE: dict[str, Setup] = {
    "update_work_item": _work_item,
    "update_vendor_status": _vendor,
    "update_project_configuration": _configuration,
    "update_enhancement": _enhancement,
}


async def test_every_tool_that_takes_a_version_is_covered(client: Client[Any]) -> None:
    versioned = {
        tool.name
        for tool in await client.list_tools()
        if "version" in tool.input_schema.get("properties", {})
    }
    assert versioned == set(STALE)  # mutating paths covered / total: 4 / 4


def _unchanged(before: dict[str, Any], after: dict[str, Any]) -> bool:
    envelope = {"data_source", "warnings", "queued", "git_live"}
    return {k: v for k, v in before.items() if k not in envelope} == {
        k: v for k, v in after.items() if k not in envelope
    }


async def _stale_call(client: Client[Any], tool: str) -> dict[str, Any]:
    args, read, read_args = await STALE[tool](client)
    before = await call(client, read, **read_args)
    error = await fail(client, tool, version=1, **args)
    assert error["error"] == "VersionConflictError"
    assert error["details"]["expected_version"] == 1
    assert error["details"]["current_version"] == 2
    assert error["details"]["current"]["version"] == 2
    assert _unchanged(before, await call(client, read, **read_args))
    return error


@pytest.mark.parametrize("tool", sorted(STALE))
async def test_a_stale_version_is_rejected_and_changes_nothing(
    client: Client[Any], tool: str
) -> None:
    await _stale_call(client, tool)


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("tool", sorted(STALE))
async def test_while_postgres_is_down_a_stale_version_is_rejected_not_queued(
    outage: Outage, tool: str
) -> None:
    async with Client(outage.server()) as client:
        args, read, read_args = await STALE[tool](client)
        await call(client, read, **read_args)
        await outage.refresh()
        outage.proxy.set_mode("down")
        error = await fail(client, tool, version=1, **args)
        assert error["error"] == "VersionConflictError"
        health = await call(client, "get_system_health")
        assert health["queued_writes"] == 0
