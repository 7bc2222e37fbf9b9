from __future__ import annotations

import asyncio
from typing import Any

from fastmcp import Client

from worktrack.server import create_server

from helpers import call, fail, task


async def test_history_lists_every_version_newest_first(client: Client[Any]) -> None:
    item = await task(client, "v1")
    await call(client, "update_work_item", id=item["id"], version=1, title="v2", updated_by="alice")
    await call(client, "update_work_item", id=item["id"], version=2, status="completed", priority=0)
    history = await call(client, "get_history", entity="work_item", id=item["id"][:9])
    assert [c["version"] for c in history["changes"]] == [3, 2, 1]
    newest, middle, first = history["changes"]
    assert newest["changes"] == {"status": ["active", "completed"], "priority": [2, 0]}
    assert middle["changes"] == {"title": ["v1", "v2"]} and middle["changed_by"] == "alice"
    assert first["changes"]["title"] == [None, "v1"] and first["changed_by"] == "mcp"
    assert first["changed_at"].endswith("+00:00")
    limited = await call(client, "get_history", entity="work_item", id=item["id"], limit=1)
    assert [c["version"] for c in limited["changes"]] == [3]
    missing = await fail(client, "get_history", entity="work_item", id="00000000")
    assert missing["error"] == "NotFoundError"
    wrong = await fail(client, "get_history", entity="sprint", id=item["id"])
    assert wrong["details"]["field"] == "entity"


async def test_repeated_request_id_returns_the_first_result(client: Client[Any]) -> None:
    item = await task(client, "t")
    first = await call(
        client, "update_work_item", id=item["id"], version=1, title="once", request_id="req-1"
    )
    again = await call(
        client, "update_work_item", id=item["id"], version=1, title="once", request_id="req-1"
    )
    assert again == first and again["version"] == 2
    history = await call(client, "get_history", entity="work_item", id=item["id"])
    assert len(history["changes"]) == 2  # applied exactly once

    made = await call(client, "create_work_item", item_type="task", title="c", request_id="req-2")
    remade = await call(client, "create_work_item", item_type="task", title="c", request_id="req-2")
    assert remade["id"] == made["id"]
    assert (await call(client, "list_work_items"))["total_count"] == 2


async def test_request_id_reused_for_another_call_is_refused(client: Client[Any]) -> None:
    item = await task(client, "t", request_id="req-3")
    other_args = await fail(
        client, "create_work_item", item_type="task", title="different", request_id="req-3"
    )
    assert other_args["details"]["field"] == "request_id"
    other_tool = await fail(
        client, "update_work_item", id=item["id"], version=1, title="x", request_id="req-3"
    )
    assert other_tool["details"]["field"] == "request_id"
    assert (await call(client, "query_work_item", id=item["id"]))["version"] == 1


async def test_concurrent_retries_with_one_request_id_apply_once(backend: Any, clock: Any) -> None:
    server = create_server(backend.settings(), clock=clock)
    async with Client(server) as setup:
        item = await task(setup, "raced")

    async def attempt() -> dict[str, Any]:
        async with Client(create_server(backend.settings(), clock=clock)) as c:
            return await call(
                c,
                "update_work_item",
                id=item["id"],
                version=1,
                title="winner",
                request_id="same-retry",
            )

    results = await asyncio.gather(*(attempt() for _ in range(4)))
    assert {r["version"] for r in results} == {2}
    assert len({r["updated_at"] for r in results}) == 1
    async with Client(server) as check:
        history = await call(check, "get_history", entity="work_item", id=item["id"])
    assert [c["version"] for c in history["changes"]] == [2, 1]
