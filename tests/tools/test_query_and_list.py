from __future__ import annotations

from typing import Any

import pytest
from fastmcp import Client

from worktrack.errors import ValidationError
from worktrack.services import work_items
from worktrack.services.app import App

from helpers import call, fail, project, task


async def test_query_gives_ancestors_nested_children_dependencies_and_progress(
    client: Client[Any],
) -> None:
    root = await project(client)
    middle = await task(client, "middle", root)
    done = await task(client, "done", middle, status="completed")
    deep = await task(client, "deep", done, status="blocked")
    deepest = await task(client, "deepest", deep)
    sibling = await task(client, "sibling", root)
    gone = await task(client, "gone", root)
    await call(client, "update_work_item", id=gone["id"], version=1, deleted=True)
    await call(
        client,
        "add_dependency",
        source_id=sibling["id"],
        target_id=middle["id"],
        dependency_type="depends_on",
    )

    detail = await call(client, "query_work_item", id=middle["id"])
    assert [a["id"] for a in detail["ancestors"]] == [root["id"]]
    assert [c["title"] for c in detail["children"]] == ["done"]
    chain = detail["children"][0]["children"][0]["children"]
    assert [c["id"] for c in chain] == [deepest["id"]] and chain[0]["children"] == []
    assert detail["progress"] == {
        "total": 3,
        "active": 1,
        "in_progress": 0,
        "blocked": 1,
        "deferred": 0,
        "completed": 1,
        "cancelled": 0,
        "percent_complete": 33,
    }
    assert [(d["source_id"], d["target_id"]) for d in detail["dependencies"]] == [
        (sibling["id"], middle["id"])
    ]

    top = await call(
        client, "query_work_item", id=root["id"], include_children=False, include_dependencies=False
    )
    assert top["children"] == [] and top["dependencies"] == []
    assert top["progress"]["total"] == 5  # deleted descendants are left out
    leaf = await call(client, "query_work_item", id=deepest["id"])
    assert [a["title"] for a in leaf["ancestors"]] == ["Project", "middle", "done", "deep"]
    assert leaf["progress"]["total"] == 0 and leaf["progress"]["percent_complete"] is None
    deleted = await call(client, "query_work_item", id=gone["id"])
    assert deleted["deleted_at"] is not None


async def test_list_filters_and_detail(client: Client[Any]) -> None:
    root = await project(client)
    first = await task(client, "Parse invoices", root, status="blocked")
    await task(client, "Export ledger", root, metadata={"blocked_reason": "Waiting on VAT"})
    await call(client, "create_work_item", item_type="research", title="Survey")

    page = await call(client, "list_work_items")
    assert page["total_count"] == 4 and page["next_cursor"] is None
    assert [i["title"] for i in page["items"]] == [
        "Survey",
        "Export ledger",
        "Parse invoices",
        "Project",
    ]
    assert set(page["items"][0]) == {
        "id",
        "item_type",
        "title",
        "status",
        "priority",
        "labels",
        "parent_id",
        "depth",
        "version",
        "claimed_by",
        "updated_at",
    }
    full = await call(client, "list_work_items", detail="full", limit=1)
    assert "metadata" in full["items"][0] and "path" in full["items"][0]

    def titles(result: dict[str, Any]) -> list[str]:
        return [i["title"] for i in result["items"]]

    assert titles(await call(client, "list_work_items", item_type="task")) == [
        "Export ledger",
        "Parse invoices",
    ]
    assert titles(await call(client, "list_work_items", status="blocked")) == ["Parse invoices"]
    assert titles(await call(client, "list_work_items", parent_id=root["id"][:10])) == [
        "Export ledger",
        "Parse invoices",
    ]
    assert titles(await call(client, "list_work_items", root_only=True)) == ["Survey", "Project"]
    assert titles(await call(client, "list_work_items", text="vat")) == ["Export ledger"]
    assert titles(await call(client, "list_work_items", text="PARSE")) == ["Parse invoices"]
    await call(client, "update_work_item", id=first["id"], version=1, deleted=True)
    assert "Parse invoices" not in titles(await call(client, "list_work_items"))
    assert "Parse invoices" in titles(await call(client, "list_work_items", include_deleted=True))


async def test_text_search_is_literal_and_unicode_aware(client: Client[Any]) -> None:
    await task(client, "100% done")
    await task(client, "1000 done")
    await task(client, "snake_case name")
    await task(client, "snakeXcase name")
    await task(client, "back\\slash")
    await task(client, "Café Ünïcode")

    async def found(text: str) -> list[str]:
        result = await call(client, "list_work_items", text=text)
        return sorted(i["title"] for i in result["items"])

    assert await found("100%") == ["100% done"]
    assert await found("e_c") == ["snake_case name"]
    assert await found("k\\s") == ["back\\slash"]
    assert await found("café ü") == ["Café Ünïcode"]
    assert await found("' OR 1=1 --") == []


async def test_cursor_pagination_walks_every_item_once(client: Client[Any]) -> None:
    made = {(await task(client, f"t{n}"))["id"] for n in range(7)}
    seen: list[str] = []
    cursor = None
    while True:
        page = await call(
            client, "list_work_items", limit=3, **({"cursor": cursor} if cursor else {})
        )
        assert page["total_count"] == 7
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and set(seen) == made


async def test_bad_cursors_are_rejected(client: Client[Any]) -> None:
    for n in range(3):
        await task(client, f"t{n}")
    page = await call(client, "list_work_items", limit=1)
    other_filter = await fail(
        client, "list_work_items", limit=1, status="blocked", cursor=page["next_cursor"]
    )
    assert other_filter["details"]["field"] == "cursor"
    garbage = await fail(client, "list_work_items", cursor="not-a-cursor")
    assert garbage["details"]["field"] == "cursor"
    too_many = await fail(client, "list_work_items", limit=201)
    assert too_many["details"]["field"] == "limit"


async def test_ambiguous_prefix_lists_the_candidates(app: App) -> None:
    ids = ["abcdef01-0000-4000-8000-000000000001", "abcdef01-9000-4000-8000-000000000002"]
    for item_id in ids:
        await work_items.create_work_item(app, item_type="task", title="t", id=item_id)
    with pytest.raises(ValidationError) as raised:
        await work_items.query_work_item(app, id="abcdef01")
    assert raised.value.field == "id"
    assert all(item_id in raised.value.constraint for item_id in ids)
    found = await work_items.query_work_item(app, id="abcdef01-9")
    assert found.id == ids[1]
