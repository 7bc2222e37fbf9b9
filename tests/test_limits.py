"""Requests above the limits are rejected whole, never truncated (reliability matrix M10)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastmcp import Client

from worktrack.limits import MAX_ARGUMENT_BYTES, MAX_ARGUMENT_DEPTH, check_arguments, nesting_depth

from helpers import call, fail
from hostile import nested


async def test_every_list_limit_over_its_maximum_is_refused(client: Client[Any]) -> None:
    limited = {
        tool.name: tool.input_schema["properties"]["limit"]["maximum"]
        for tool in await client.list_tools()
        if "limit" in tool.input_schema.get("properties", {})
    }
    assert len(limited) >= 5
    required = {
        "get_history": {"entity": "work_item", "id": "00000000"},
        "list_notes": {"work_item_id": "00000000"},
    }
    for tool, maximum in limited.items():
        for too_many in (maximum + 1, 10**6):
            error = await fail(client, tool, limit=too_many, **required.get(tool, {}))
            assert error["error"] == "ValidationError", tool
            assert error["details"]["field"] == "limit", tool
            assert str(maximum) in error["message"]


async def test_ten_megabyte_argument_is_refused_and_nothing_is_stored(client: Client[Any]) -> None:
    arguments = {"item_type": "task", "title": "t", "metadata": {"blocked_reason": "x" * 10**7}}
    error = await fail(client, "create_work_item", **arguments)
    size = len(json.dumps(arguments, ensure_ascii=False))
    assert error["details"] == {
        "field": "arguments",
        "constraint": f"{size} bytes as JSON; at most {MAX_ARGUMENT_BYTES} (1 MiB) per call",
    }
    assert (await call(client, "list_work_items"))["total_count"] == 0


async def test_just_under_the_limit_is_judged_by_the_field_rules(client: Client[Any]) -> None:
    error = await fail(client, "create_work_item", item_type="task", title="x" * 900_000)
    assert error["details"]["field"] == "title"  # 200 characters at most: the field's own rule


@pytest.mark.parametrize("depth", [MAX_ARGUMENT_DEPTH, 100_000])
def test_depth_is_measured_without_recursion(depth: int) -> None:
    value = {"a": nested(depth - 1)}
    assert nesting_depth(value, stop_after=10**6) == depth
    if depth > MAX_ARGUMENT_DEPTH:
        with pytest.raises(Exception, match="nested deeper"):
            check_arguments(value)
    else:
        check_arguments(value)
