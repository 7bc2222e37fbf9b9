from __future__ import annotations

from typing import Any

import pytest
from fastmcp import Client

from helpers import PROJECT_META, call, fail, project, task


async def test_update_changes_fields_and_bumps_version_by_one(client: Client[Any]) -> None:
    item = await task(client, "draft", branch_name="b1", pr_number=3)
    updated = await call(
        client,
        "update_work_item",
        id=item["id"],
        version=1,
        title="final",
        status="blocked",
        priority=0,
        metadata={"blocked_reason": "review"},
        updated_by="bob",
    )
    assert updated["version"] == 2
    assert (updated["title"], updated["status"], updated["priority"]) == ("final", "blocked", 0)
    assert updated["metadata"] == {"blocked_reason": "review"}
    assert updated["updated_by"] == "bob" and updated["created_by"] == "mcp"
    assert updated["updated_at"] > item["updated_at"]
    cleared = await call(
        client,
        "update_work_item",
        id=item["id"],
        version=2,
        branch_name="",
        pr_number=0,
        commit_hash="",
    )
    assert (cleared["branch_name"], cleared["pr_number"], cleared["commit_hash"]) == (
        None,
        None,
        None,
    )
    assert cleared["version"] == 3


async def test_update_without_changes_keeps_the_version(client: Client[Any]) -> None:
    item = await task(client, "same")
    again = await call(client, "update_work_item", id=item["id"], version=1, title="same")
    assert again["version"] == 1


async def test_metadata_given_replaces_metadata_stored(client: Client[Any]) -> None:
    item = await task(client, "t", metadata={"estimated_hours": 3, "blocked_reason": "x"})
    updated = await call(
        client, "update_work_item", id=item["id"], version=1, metadata={"actual_hours": 4}
    )
    assert updated["metadata"] == {"actual_hours": 4}
    error = await fail(
        client,
        "update_work_item",
        id=item["id"],
        version=2,
        metadata={"target_quarter": "2026-Q1"},
    )
    assert error["details"]["field"] == "metadata.target_quarter"


@pytest.mark.parametrize(
    "change",
    [
        {"title": "t2"},
        {"status": "completed"},
        {"priority": 1},
        {"metadata": {"actual_hours": 1}},
        {"metadata_patch": {"actual_hours": 1}},
        {"description": "new words"},
        {"acceptance_criteria": "it works"},
        {"labels": ["backend"]},
        {"status": "cancelled"},
        {"branch_name": "b"},
        {"commit_hash": "b" * 40},
        {"pr_number": 2},
        {"parent_id": ""},
        {"deleted": True},
    ],
)
async def test_every_change_rejects_a_stale_version(
    client: Client[Any], change: dict[str, Any]
) -> None:
    parent = await project(client)
    item = await task(client, "t", parent)
    await call(
        client, "update_work_item", id=item["id"], version=1, title="moved on", updated_by="alice"
    )
    error = await fail(client, "update_work_item", id=item["id"], version=1, **change)
    assert error["error"] == "VersionConflictError"
    details = error["details"]
    assert (details["expected_version"], details["current_version"]) == (1, 2)
    assert details["last_updated_by"] == "alice"
    assert details["current"]["title"] == "moved on" and details["current"]["version"] == 2
    after = await call(client, "query_work_item", id=item["id"])
    assert after["version"] == 2 and after["title"] == "moved on"
    assert after["parent_id"] == parent["id"] and after["deleted_at"] is None


async def test_move_takes_the_whole_subtree(client: Client[Any]) -> None:
    a, b = await project(client, "A"), await project(client, "B")
    child = await task(client, "child", a)
    grandchild = await task(client, "grandchild", child)
    moved = await call(client, "update_work_item", id=child["id"], version=1, parent_id=b["id"])
    assert moved["parent_id"] == b["id"] and moved["version"] == 2
    assert moved["path"] == f"/{b['id']}/{child['id']}"
    below = await call(client, "query_work_item", id=grandchild["id"])
    assert below["path"] == f"/{b['id']}/{child['id']}/{grandchild['id']}"
    assert below["depth"] == 2 and below["version"] == 2
    assert [x["id"] for x in below["ancestors"]] == [b["id"], child["id"]]
    history = await call(client, "get_history", entity="work_item", id=grandchild["id"])
    assert history["changes"][0]["changes"]["path"] == [grandchild["path"], below["path"]]
    rooted = await call(client, "update_work_item", id=child["id"], version=2, parent_id="")
    assert rooted["parent_id"] is None and rooted["depth"] == 0
    below = await call(client, "query_work_item", id=grandchild["id"])
    assert below["path"] == f"/{child['id']}/{grandchild['id']}" and below["depth"] == 1


async def test_move_under_own_descendant_is_rejected(client: Client[Any]) -> None:
    root = await project(client)
    child = await task(client, "child", root)
    for target in (root, child):
        error = await fail(
            client, "update_work_item", id=root["id"], version=1, parent_id=target["id"]
        )
        assert error["error"] == "ValidationError"
        assert error["details"]["field"] == "parent_id"
    unchanged = await call(client, "query_work_item", id=root["id"])
    assert unchanged["version"] == 1 and unchanged["parent_id"] is None


async def test_move_respects_the_depth_limit_of_the_deepest_descendant(
    client: Client[Any],
) -> None:
    deep = await project(client, "deep")
    for level in range(4):
        deep = await task(client, f"d{level}", deep)  # depth 4
    branch = await project(client, "branch")
    await task(client, "leaf", branch)  # branch has one level below it
    error = await fail(client, "update_work_item", id=branch["id"], version=1, parent_id=deep["id"])
    assert "depth" in error["details"]["constraint"]
    leaf_only = await task(client, "single")
    moved = await call(
        client, "update_work_item", id=leaf_only["id"], version=1, parent_id=deep["id"]
    )
    assert moved["depth"] == 5


async def test_soft_delete_cascades_and_restore_brings_back_what_went_with_it(
    client: Client[Any],
) -> None:
    root = await project(client)
    kept = await task(client, "deleted earlier", root)
    await call(client, "update_work_item", id=kept["id"], version=1, deleted=True)
    child = await task(client, "child", root)
    deleted = await call(client, "update_work_item", id=root["id"], version=1, deleted=True)
    assert deleted["deleted_at"] is not None and deleted["version"] == 2
    child_now = await call(client, "query_work_item", id=child["id"])
    assert child_now["deleted_at"] == deleted["deleted_at"] and child_now["version"] == 2
    listed = await call(client, "list_work_items")
    assert listed["total_count"] == 0
    assert (await call(client, "list_work_items", include_deleted=True))["total_count"] == 3

    refused = await fail(client, "update_work_item", id=child["id"], version=2, deleted=False)
    assert refused["details"]["field"] == "deleted"

    restored = await call(client, "update_work_item", id=root["id"], version=2, deleted=False)
    assert restored["deleted_at"] is None and restored["version"] == 3
    assert (await call(client, "query_work_item", id=child["id"]))["deleted_at"] is None
    still = await call(client, "query_work_item", id=kept["id"])
    assert still["deleted_at"] is not None and still["version"] == 2


async def test_unknown_item_and_prefixes(client: Client[Any]) -> None:
    missing = await fail(client, "update_work_item", id="deadbeef", version=1, title="x")
    assert missing["error"] == "NotFoundError" and missing["details"]["id"] == "deadbeef"
    item = await project(client)
    by_prefix = await call(
        client,
        "update_work_item",
        id=item["id"][:8].upper(),
        version=1,
        metadata={**PROJECT_META, "constitutional_principles": ["tests"]},
        description="now described",
    )
    assert by_prefix["id"] == item["id"]
