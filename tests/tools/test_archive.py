"""archive_work_items and the archive seen through the work-item tools, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from fastmcp import Client
from sqlalchemy import func, select, union_all

from worktrack.server import create_server
from worktrack.services import archive
from worktrack.startup import close_app, open_app
from worktrack.tables import dependencies, deployment_work_items, work_items, work_items_archive

from conftest import Backend, Clock
from helpers import call, fail, project, task

YEAR_AND_A_BIT = 400
ENVELOPE = ("data_source", "warnings", "queued")


async def _complete(client: Client[Any], item: dict[str, Any]) -> dict[str, Any]:
    return await call(
        client, "update_work_item", id=item["id"], version=item["version"], status="completed"
    )


async def _archive(client: Client[Any], **arguments: Any) -> dict[str, Any]:
    return await call(client, "archive_work_items", **arguments)


async def _rows(backend: Backend) -> tuple[int, int]:
    """How many rows the active table and the archive hold."""
    app = await open_app(backend.settings())
    try:

        async def count(conn: Any) -> tuple[int, int]:
            active = await conn.scalar(select(func.count()).select_from(work_items))
            stored = await conn.scalar(select(func.count()).select_from(work_items_archive))
            return int(active), int(stored)

        return await app.db.run(count)
    finally:
        await close_app(app)


async def test_finished_items_untouched_for_long_move_whole_and_can_still_be_read(
    client: Client[Any], clock: Clock
) -> None:
    root = await project(client)
    done = await _complete(client, await task(client, "done", root, metadata={"actual_hours": 3}))
    dropped = await task(client, "dropped", root)
    dropped = await call(client, "update_work_item", id=dropped["id"], version=1, deleted=True)
    busy = await task(client, "busy", root)
    clock.advance(days=YEAR_AND_A_BIT)

    result = await _archive(client)
    assert result["archived_count"] == 2 and set(result["ids"]) == {done["id"], dropped["id"]}
    assert result["data_source"] in ("sqlite", "postgresql") and result["queued"] is False

    listed = await call(client, "list_work_items", include_deleted=True)
    assert {item["id"] for item in listed["items"]} == {root["id"], busy["id"]}
    archived = await call(client, "list_work_items", archived=True, include_deleted=True)
    assert {item["id"] for item in archived["items"]} == {done["id"], dropped["id"]}
    assert archived["total_count"] == 2

    found = await call(client, "query_work_item", id=done["id"][:8])
    same = [name for name in done if name not in (*ENVELOPE, "archived_at")]
    assert {name: found[name] for name in same} == {name: done[name] for name in same}
    assert done["archived_at"] is None and found["archived_at"] > done["updated_at"]
    assert [a["id"] for a in found["ancestors"]] == [root["id"]]
    history = await call(client, "get_history", entity="work_item", id=done["id"])
    assert [change["version"] for change in history["changes"]] == [2, 1]

    again = await _archive(client)
    assert again["archived_count"] == 0 and again["ids"] == []


async def test_recent_or_unfinished_items_stay(client: Client[Any], clock: Clock) -> None:
    await task(client, "active and old")
    await call(client, "create_work_item", item_type="task", title="blocked", status="blocked")
    clock.advance(days=YEAR_AND_A_BIT)
    recent = await _complete(client, await task(client, "completed yesterday"))
    clock.advance(days=1)
    assert (await _archive(client))["ids"] == []
    assert (await _archive(client, older_than_days=0))["ids"] == [recent["id"]]


async def test_an_item_moves_only_after_everything_below_it(
    client: Client[Any], clock: Clock
) -> None:
    root = await _complete(client, await project(client))
    child = await task(client, "child", root)
    grandchild = await _complete(client, await task(client, "grandchild", child))
    clock.advance(days=YEAR_AND_A_BIT)
    # The root and the grandchild are finished, but the child is active: only the leaf goes.
    assert (await _archive(client))["ids"] == [grandchild["id"]]

    await _complete(client, await call(client, "query_work_item", id=child["id"]))
    assert (await _archive(client))["ids"] == []  # the child changed just now
    clock.advance(days=YEAR_AND_A_BIT)
    assert (await _archive(client))["ids"] == [child["id"], root["id"]]  # deepest first

    top = await call(client, "query_work_item", id=root["id"])
    assert top["archived_at"] is not None and top["ancestors"] == []
    assert [c["id"] for c in top["children"]] == [child["id"]]
    assert [c["id"] for c in top["children"][0]["children"]] == [grandchild["id"]]
    assert top["progress"]["total"] == 2 and top["progress"]["percent_complete"] == 100
    leaf = await call(client, "query_work_item", id=grandchild["id"])
    assert [a["id"] for a in leaf["ancestors"]] == [root["id"], child["id"]]


async def test_batches_go_deepest_first_across_many_transactions(
    client: Client[Any], clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(archive, "BATCH_SIZE", 2)
    trees = []
    for n in range(3):
        root = await _complete(client, await project(client, f"root {n}"))
        middle = await _complete(client, await task(client, f"middle {n}", root))
        leaf = await _complete(client, await task(client, f"leaf {n}", middle))
        trees.append((root["id"], middle["id"], leaf["id"]))
    clock.advance(days=YEAR_AND_A_BIT)
    moved = (await _archive(client))["ids"]
    assert len(moved) == 9
    depth_of = {item_id: depth for tree in trees for depth, item_id in enumerate(tree)}
    assert [depth_of[item_id] for item_id in moved] == [2, 2, 2, 1, 1, 1, 0, 0, 0]


async def test_dry_run_reports_and_moves_nothing(
    client: Client[Any], clock: Clock, backend: Backend
) -> None:
    root = await _complete(client, await project(client))
    leaf = await _complete(client, await task(client, "leaf", root))
    clock.advance(days=YEAR_AND_A_BIT)
    preview = await _archive(client, dry_run=True)
    assert preview["ids"] == [leaf["id"], root["id"]] and preview["archived_count"] == 2
    assert await _rows(backend) == (2, 0)
    assert (await call(client, "query_work_item", id=leaf["id"]))["archived_at"] is None
    assert (await _archive(client))["ids"] == preview["ids"]
    assert await _rows(backend) == (0, 2)


async def test_dependency_and_deployment_links_survive_the_move(
    client: Client[Any], clock: Clock, backend: Backend
) -> None:
    done = await _complete(client, await task(client, "done"))
    waiting = await task(client, "waiting")
    await call(
        client,
        "add_dependency",
        source_id=waiting["id"],
        target_id=done["id"],
        dependency_type="depends_on",
    )
    shipped = await call(
        client,
        "record_deployment",
        commit_hash="a" * 40,
        metadata={
            "pr_number": 1,
            "pr_title": "Ship it",
            "test_summary": {"unit": 1},
            "constitutional_compliance": True,
        },
        related_work_item_ids=[done["id"], waiting["id"]],
    )
    clock.advance(days=YEAR_AND_A_BIT)
    assert (await _archive(client))["ids"] == [done["id"]]

    links = (await call(client, "query_work_item", id=waiting["id"]))["dependencies"]
    assert [(d["source_id"], d["target_id"]) for d in links] == [(waiting["id"], done["id"])]
    assert (await call(client, "query_work_item", id=done["id"]))["dependencies"] == links
    deployment = await call(client, "query_deployment", id=shipped["id"])
    assert [w["id"] for w in deployment["related_work_items"]] == [done["id"], waiting["id"]]
    by_item = await call(client, "list_deployments", work_item_id=done["id"])
    assert [d["id"] for d in by_item["items"]] == [shipped["id"]]
    ready = await call(client, "ready_work")
    assert [item["id"] for item in ready["items"]] == [waiting["id"]]  # its blocker finished
    assert await _dangling_links(backend) == 0


async def _dangling_links(backend: Backend) -> int:
    """Link ends that name no work item, active or archived."""
    known = union_all(select(work_items.c.id), select(work_items_archive.c.id)).subquery()
    ends = union_all(
        select(dependencies.c.source_id.label("id")),
        select(dependencies.c.target_id),
        select(deployment_work_items.c.work_item_id),
    ).subquery()
    app = await open_app(backend.settings())
    try:
        query = select(func.count()).select_from(ends).where(ends.c.id.not_in(select(known.c.id)))
        return int(await app.db.run(lambda conn: conn.scalar(query)))
    finally:
        await close_app(app)


async def test_archived_items_are_read_only(client: Client[Any], clock: Clock) -> None:
    done = await _complete(client, await task(client, "done"))
    other = await task(client, "other")
    clock.advance(days=YEAR_AND_A_BIT)
    await _archive(client)
    refusals = [
        ("update_work_item", {"id": done["id"], "version": 2, "title": "x"}),
        ("create_work_item", {"item_type": "task", "title": "x", "parent_id": done["id"]}),
        (
            "add_dependency",
            {"source_id": other["id"], "target_id": done["id"], "dependency_type": "blocks"},
        ),
        ("claim_work_item", {"id": done["id"]}),
        ("update_work_item", {"id": other["id"], "version": 1, "parent_id": done["id"]}),
    ]
    for tool, arguments in refusals:
        error = await fail(client, tool, **arguments)
        assert error["error"] == "ValidationError", (tool, error)
        assert "archived" in error["details"]["constraint"], (tool, error)
    assert (await call(client, "query_work_item", id=other["id"]))["version"] == 1


async def test_the_archive_lists_with_filters_and_cursors(
    client: Client[Any], clock: Clock
) -> None:
    root = await project(client)
    made = [await _complete(client, await task(client, f"Invoice {n}", root)) for n in range(3)]
    await _complete(client, await task(client, "Ledger", root))
    clock.advance(days=YEAR_AND_A_BIT)
    await _archive(client)

    first = await call(client, "list_work_items", archived=True, text="invoice", limit=2)
    assert first["total_count"] == 3 and first["next_cursor"]
    rest = await call(
        client,
        "list_work_items",
        archived=True,
        text="invoice",
        limit=2,
        cursor=first["next_cursor"],
    )
    pages = [item["id"] for item in first["items"] + rest["items"]]
    assert pages == [item["id"] for item in reversed(made)] and rest["next_cursor"] is None
    children = await call(
        client, "list_work_items", archived=True, parent_id=root["id"], detail="full"
    )
    assert children["total_count"] == 4
    assert all(item["archived_at"] is not None for item in children["items"])
    crossed = await fail(client, "list_work_items", text="invoice", cursor=first["next_cursor"])
    assert crossed["details"]["field"] == "cursor"
    assert (await call(client, "list_work_items"))["total_count"] == 1


async def test_the_age_must_not_be_negative(client: Client[Any]) -> None:
    error = await fail(client, "archive_work_items", older_than_days=-1)
    assert error["details"]["field"] == "older_than_days"


async def test_archiving_is_an_admin_write(backend: Backend, clock: Clock) -> None:
    async with Client(create_server(backend.settings(read_only=True), clock=clock)) as client:
        assert "archive_work_items" not in {tool.name for tool in await client.list_tools()}
    admin_only = backend.settings(toolsets=("admin",))
    async with Client(create_server(admin_only, clock=clock)) as client:
        [tool] = [t for t in await client.list_tools() if t.name == "archive_work_items"]
        assert tool.annotations is not None and tool.annotations.read_only_hint is not True


async def test_a_repeated_request_id_returns_the_first_result(
    client: Client[Any], clock: Clock
) -> None:
    first_done = await _complete(client, await task(client, "first"))
    clock.advance(days=YEAR_AND_A_BIT)
    first = await _archive(client, request_id="archive-1")
    assert first["ids"] == [first_done["id"]]
    await _complete(client, await task(client, "second"))
    clock.advance(days=YEAR_AND_A_BIT)
    again = await _archive(client, request_id="archive-1")
    assert again["ids"] == first["ids"]  # the retry applied nothing
    assert (await call(client, "list_work_items"))["total_count"] == 1
    other = await fail(client, "archive_work_items", request_id="archive-1", dry_run=True)
    assert other["details"]["field"] == "request_id"
    await task(client, "made", request_id="create-1")
    reused = await fail(client, "archive_work_items", request_id="create-1")
    assert "create_work_item" in reused["details"]["constraint"]
