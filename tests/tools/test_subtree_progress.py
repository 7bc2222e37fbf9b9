"""query_work_item's subtree: progress by status, the breadth-first cap of max_nodes."""

from __future__ import annotations

from typing import Any

from fastmcp import Client

from helpers import call, fail, project, task


def _titles(nodes: list[dict[str, Any]]) -> list[Any]:
    """The nested tree as titles: a leaf is its title, a parent (title, [children])."""
    return [(n["title"], _titles(n["children"])) if n["children"] else n["title"] for n in nodes]


async def test_progress_counts_every_status_and_leaves_cancelled_work_out_of_the_percent(
    client: Client[Any],
) -> None:
    root = await project(client)
    statuses = ["active", "in_progress", "blocked", "deferred", "completed", "completed"]
    for n, status in enumerate(statuses):
        await task(client, f"t{n}", root, status=status)
    await task(client, "dropped", root, status="cancelled")
    progress = (await call(client, "query_work_item", id=root["id"]))["progress"]
    assert progress == {
        "total": 7,
        "active": 1,
        "in_progress": 1,
        "blocked": 1,
        "deferred": 1,
        "completed": 2,
        "cancelled": 1,
        "percent_complete": 33,  # 2 of the 6 not cancelled
    }
    only_dropped = await task(client, "only dropped")
    await task(client, "gone", only_dropped, status="cancelled")
    alone = (await call(client, "query_work_item", id=only_dropped["id"]))["progress"]
    assert alone["total"] == 1 and alone["percent_complete"] is None  # nothing left to do
    half = await task(client, "half")
    await task(client, "a", half, status="completed")
    await task(client, "b", half)
    await task(client, "c", half, status="completed")
    rounded = (await call(client, "query_work_item", id=half["id"]))["progress"]
    assert rounded["percent_complete"] == 67  # 66.67 rounded


async def test_max_nodes_cuts_the_tree_breadth_first(client: Client[Any]) -> None:
    root = await project(client)
    a = await task(client, "a", root)
    b = await task(client, "b", root)
    await task(client, "a1", a)
    await task(client, "a2", a)
    await task(client, "b1", b)
    a11 = await task(client, "a11", (await call(client, "list_work_items", text="a1"))["items"][0])
    await task(client, "a111", a11)

    whole = await call(client, "query_work_item", id=root["id"])
    assert _titles(whole["children"]) == [
        ("a", [("a1", [("a11", ["a111"])]), "a2"]),
        ("b", ["b1"]),
    ]
    assert whole["descendant_count"] == 7 and whole["children_truncated"] is False

    cut = await call(client, "query_work_item", id=root["id"], max_nodes=4)
    assert _titles(cut["children"]) == [("a", ["a1", "a2"]), "b"]  # both levels before deeper
    assert cut["descendant_count"] == 7 and cut["children_truncated"] is True
    assert cut["progress"]["total"] == 7  # progress counts the whole subtree

    exact = await call(client, "query_work_item", id=root["id"], max_nodes=7)
    assert exact["children_truncated"] is False
    one = await call(client, "query_work_item", id=root["id"], max_nodes=1)
    assert _titles(one["children"]) == ["a"]
    hidden = await call(client, "query_work_item", id=root["id"], include_children=False)
    assert hidden["children"] == [] and hidden["descendant_count"] == 7
    for bad in (0, 1001):
        error = await fail(client, "query_work_item", id=root["id"], max_nodes=bad)
        assert error["details"]["field"] == "max_nodes"


async def test_tree_nodes_are_lean_and_the_default_tree_stays_under_five_thousand_tokens(
    client: Client[Any],
) -> None:
    root = await project(client)
    session = await call(
        client, "create_work_item", item_type="session", title="s", parent_id=root["id"]
    )
    for n in range(120):  # titles as long as the benchmark's realistic project has them
        await task(client, f"Task {n:03d}: parse the vendor statement layout", session)
    await call(client, "claim_work_item", id=session["id"])
    result = await client.call_tool_mcp("query_work_item", {"id": root["id"]})
    text = "".join(getattr(block, "text", "") for block in result.content)
    assert len(text) / 4 <= 5_000
    detail = await call(client, "query_work_item", id=root["id"])
    (top,) = detail["children"]
    assert set(top) == {
        "id",
        "item_type",
        "title",
        "status",
        "priority",
        "labels",
        "claimed_by",
        "children",
    }
    assert top["claimed_by"] and len(top["children"]) == 99 and detail["children_truncated"]
    leaf = top["children"][0]
    assert set(leaf) == {"id", "item_type", "title", "status", "priority", "labels", "children"}
    assert detail["ancestors"] == [] and detail["descendant_count"] == 121
