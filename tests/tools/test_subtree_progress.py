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
