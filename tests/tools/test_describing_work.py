"""Describing work (issue 11): description, acceptance criteria and labels; a project's
description as its own field; session metadata defaults; ``metadata_patch``; the six
statuses; the claims guard; the new list filters. Every test runs on SQLite and Postgres."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from fastmcp import Client

from worktrack.services import work_items
from worktrack.services.app import App
from worktrack.store import work_items as item_store
from worktrack.store.work_items import EXACT_COUNT_LIMIT

from conftest import Clock
from helpers import SESSION_META, call, counting, fail, project, task


async def _unchanged(client: Client[Any], item: dict[str, Any]) -> None:
    """A refused call changed nothing: the item reads back as it was."""
    again = await call(client, "query_work_item", id=item["id"])
    for name in ("version", "title", "description", "acceptance_criteria", "labels", "metadata"):
        assert again[name] == item[name], name


async def test_description_criteria_and_labels_are_stored_and_returned(
    client: Client[Any],
) -> None:
    made = await call(
        client,
        "create_work_item",
        item_type="task",
        title="Parse invoices",
        description="# Parse\n\nRead the **PDF** and book it.",
        acceptance_criteria="- every sample parses\n- totals match",
        labels=["Backend", "pdf", "backend", "area:parsing"],
    )
    assert made["description"] == "# Parse\n\nRead the **PDF** and book it."
    assert made["acceptance_criteria"] == "- every sample parses\n- totals match"
    assert made["labels"] == ["area:parsing", "backend", "pdf"]  # lower-case, unique, sorted
    found = await call(client, "query_work_item", id=made["id"])
    assert (found["description"], found["acceptance_criteria"], found["labels"]) == (
        made["description"],
        made["acceptance_criteria"],
        made["labels"],
    )
    history = await call(client, "get_history", entity="work_item", id=made["id"])
    first = history["changes"][0]["changes"]
    assert first["labels"] == [None, ["area:parsing", "backend", "pdf"]]
    assert first["acceptance_criteria"][1] == made["acceptance_criteria"]


async def test_a_project_needs_a_description_of_its_own(client: Client[Any]) -> None:
    for arguments in ({}, {"description": "   \n\t"}, {"description": ""}):
        error = await fail(client, "create_work_item", item_type="project", title="P", **arguments)
        assert error["error"] == "ValidationError"
        assert error["details"]["field"] == "description"
        assert "project" in error["details"]["constraint"]
    moved = await fail(
        client,
        "create_work_item",
        item_type="project",
        title="P",
        description="d",
        metadata={"description": "the old place"},
    )
    assert moved["details"]["field"] == "description"
    assert "metadata.description" in moved["details"]["constraint"]
    listed = await call(client, "list_work_items", include_deleted=True)
    assert listed["total_count"] == 0  # nothing stored by any refused call
    item = await project(client)
    blanked = await fail(client, "update_work_item", id=item["id"], version=1, description="  ")
    assert blanked["details"]["field"] == "description"
    patched = await fail(
        client,
        "update_work_item",
        id=item["id"],
        version=1,
        metadata_patch={"description": "sneaked back"},
    )
    assert patched["details"]["field"] == "description"
    await _unchanged(client, item)


@pytest.mark.parametrize(
    ("arguments", "field", "words"),
    [
        ({"description": "d" * 20_001}, "description", "at most 20000 characters"),
        ({"acceptance_criteria": "a" * 5_001}, "acceptance_criteria", "at most 5000 characters"),
        ({"description": "bell\x07"}, "description", "control character"),
        ({"acceptance_criteria": "nul\x00"}, "acceptance_criteria", "control character"),
        ({"labels": [f"l{n}" for n in range(21)]}, "labels", "20"),
        ({"labels": ["ok", "-starts-with-a-dash"]}, "labels.1", "starting with"),
        ({"labels": ["x" * 51]}, "labels.0", "50 characters"),
        ({"labels": ["two words"]}, "labels.0", "letters, digits"),
        ({"labels": [""]}, "labels.0", "1..50"),
        ({"labels": "backend"}, "labels", ""),
        ({"labels": ["caf\u00e9"]}, "labels.0", "letters, digits"),
    ],
)
async def test_bad_descriptions_and_labels_name_field_and_rule(
    client: Client[Any], arguments: dict[str, Any], field: str, words: str
) -> None:
    error = await fail(client, "create_work_item", item_type="task", title="t", **arguments)
    assert error["error"] == "ValidationError"
    assert error["details"]["field"] == field
    assert words in error["details"]["constraint"]
    listed = await call(client, "list_work_items", include_deleted=True)
    assert listed["total_count"] == 0
    item = await task(client, "kept")
    refused = await fail(client, "update_work_item", id=item["id"], version=1, **arguments)
    assert refused["details"]["field"] == field
    await _unchanged(client, item)


async def test_the_longest_description_and_criteria_fit(client: Client[Any]) -> None:
    item = await task(
        client,
        "long",
        description="d" * 20_000,
        acceptance_criteria="a" * 5_000,
        labels=[f"l{n:02}" for n in range(20)],
    )
    assert len(item["description"]) == 20_000 and len(item["acceptance_criteria"]) == 5_000
    assert len(item["labels"]) == 20


async def test_update_replaces_labels_and_clears_criteria(client: Client[Any]) -> None:
    item = await task(client, "t", acceptance_criteria="it works", labels=["a", "b"])
    updated = await call(
        client,
        "update_work_item",
        id=item["id"],
        version=1,
        labels=["C", "a"],
        description="now with words",
    )
    assert updated["labels"] == ["a", "c"] and updated["version"] == 2
    assert updated["description"] == "now with words"
    same = await call(client, "update_work_item", id=item["id"], version=2, labels=["c", "A"])
    assert same["version"] == 2  # the same set in another spelling changes nothing
    cleared = await call(
        client,
        "update_work_item",
        id=item["id"],
        version=2,
        labels=[],
        acceptance_criteria="",
        description="",
    )
    assert (cleared["labels"], cleared["acceptance_criteria"], cleared["description"]) == (
        [],
        None,
        None,
    )
    history = await call(client, "get_history", entity="work_item", id=item["id"])
    newest = history["changes"][0]
    assert newest["version"] == 3
    assert newest["changes"]["labels"] == [["a", "c"], []]
    assert newest["changes"]["acceptance_criteria"] == ["it works", None]


async def test_session_metadata_is_optional_with_stored_defaults(client: Client[Any]) -> None:
    bare = await call(client, "create_work_item", item_type="session", title="S")
    assert bare["metadata"] == {
        "token_budget": 200_000,
        "prompts_count": 0,
        "yaml_frontmatter": {"schema_version": "1.0"},
    }
    config = await call(client, "get_project_configuration")
    await call(
        client,
        "update_project_configuration",
        version=config["version"],
        default_token_budget=50_000,
    )
    partial = await call(
        client, "create_work_item", item_type="session", title="S2", metadata={"prompts_count": 3}
    )
    assert partial["metadata"]["token_budget"] == 50_000
    assert partial["metadata"]["prompts_count"] == 3
    given = await call(
        client, "create_work_item", item_type="session", title="S3", metadata=SESSION_META
    )
    assert given["metadata"] == SESSION_META
    still_checked = await fail(
        client,
        "create_work_item",
        item_type="session",
        title="S4",
        metadata={"yaml_frontmatter": {"goal": "no version"}},
    )
    assert still_checked["details"]["field"] == "metadata"
    assert "schema_version" in still_checked["details"]["constraint"]


async def test_metadata_patch_merges_and_null_removes(client: Client[Any]) -> None:
    item = await task(client, "t", metadata={"estimated_hours": 3, "blocked_reason": "vat"})
    patched = await call(
        client,
        "update_work_item",
        id=item["id"],
        version=1,
        metadata_patch={"actual_hours": 4, "blocked_reason": None},
    )
    assert patched["metadata"] == {"estimated_hours": 3, "actual_hours": 4}
    assert patched["version"] == 2
    research = await call(
        client,
        "create_work_item",
        item_type="research",
        title="R",
        metadata={"references": ["a"], "findings_summary": "so far"},
    )
    lists_replace = await call(
        client,
        "update_work_item",
        id=research["id"],
        version=1,
        metadata_patch={"references": ["b", "c"]},
    )
    assert lists_replace["metadata"] == {"references": ["b", "c"], "findings_summary": "so far"}
    history = await call(client, "get_history", entity="work_item", id=item["id"])
    assert history["changes"][0]["changes"]["metadata"] == [
        {"estimated_hours": 3, "blocked_reason": "vat"},
        {"estimated_hours": 3, "actual_hours": 4},
    ]


async def test_a_session_patch_that_drops_the_budget_gets_the_default(
    client: Client[Any],
) -> None:
    session = await call(
        client, "create_work_item", item_type="session", title="S", metadata=SESSION_META
    )
    patched = await call(
        client,
        "update_work_item",
        id=session["id"],
        version=1,
        metadata_patch={"token_budget": None, "yaml_frontmatter": {"goal": "ship"}},
    )
    assert patched["metadata"]["token_budget"] == 200_000
    assert patched["metadata"]["yaml_frontmatter"] == {"schema_version": "1.0", "goal": "ship"}


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        (
            {"metadata": {"actual_hours": 1}, "metadata_patch": {"actual_hours": 2}},
            "metadata_patch",
        ),
        ({"metadata_patch": {"owner": "me"}}, "metadata.owner"),
        ({"metadata_patch": {"estimated_hours": 1001}}, "metadata.estimated_hours"),
        ({"metadata_patch": {"blocked_reason": "r" * 501}}, "metadata.blocked_reason"),
        ({"metadata_patch": {"estimated_hours": "3"}}, "metadata.estimated_hours"),
        ({"metadata_patch": {"blocked_reason": "nul\x00"}}, "metadata_patch"),
        ({"metadata_patch": "not an object"}, "metadata_patch"),
    ],
)
async def test_bad_metadata_patches_change_nothing(
    client: Client[Any], arguments: dict[str, Any], field: str
) -> None:
    item = await task(client, "t", metadata={"estimated_hours": 3})
    error = await fail(client, "update_work_item", id=item["id"], version=1, **arguments)
    assert error["error"] == "ValidationError"
    assert error["details"]["field"] == field
    assert error["details"]["constraint"]
    await _unchanged(client, item)


async def test_a_stale_patch_or_label_change_applies_nothing(client: Client[Any]) -> None:
    item = await task(client, "t", metadata={"estimated_hours": 3}, labels=["a"])
    moved_on = await call(
        client, "update_work_item", id=item["id"], version=1, priority=0, updated_by="alice"
    )
    for change in (
        {"metadata_patch": {"actual_hours": 1}},
        {"labels": ["b"]},
        {"description": "late"},
        {"acceptance_criteria": "late"},
    ):
        error = await fail(client, "update_work_item", id=item["id"], version=1, **change)
        assert error["error"] == "VersionConflictError"
        assert error["details"]["current_version"] == 2
        assert error["details"]["last_updated_by"] == "alice"
        assert error["details"]["current"]["labels"] == ["a"]
    await _unchanged(client, moved_on)


@pytest.mark.parametrize(
    "status", ["active", "in_progress", "blocked", "deferred", "completed", "cancelled"]
)
async def test_every_status_is_stored_and_its_change_recorded(
    client: Client[Any], status: str
) -> None:
    made = await task(client, "t", status=status)
    assert made["status"] == status
    other = "active" if status != "active" else "in_progress"
    changed = await call(client, "update_work_item", id=made["id"], version=1, status=other)
    history = await call(client, "get_history", entity="work_item", id=made["id"])
    assert changed["status"] == other
    assert history["changes"][0]["changes"]["status"] == [status, other]
    listed = await call(client, "list_work_items", status=other)
    assert [i["id"] for i in listed["items"]] == [made["id"]]


@pytest.mark.parametrize("closing", ["completed", "cancelled"])
async def test_a_closed_item_satisfies_the_dependencies_on_it(
    client: Client[Any], closing: str
) -> None:
    later = await task(client, "later")
    first = await task(client, "first")
    await call(
        client,
        "add_dependency",
        source_id=later["id"],
        target_id=first["id"],
        dependency_type="depends_on",
    )
    ready = await call(client, "ready_work")
    assert [i["id"] for i in ready["items"]] == [first["id"]]
    await call(client, "update_work_item", id=first["id"], version=1, status="in_progress")
    still = await call(client, "ready_work")
    assert [i["id"] for i in still["items"]] == []  # in progress is still open
    await call(client, "update_work_item", id=first["id"], version=2, status=closing)
    now_ready = await call(client, "ready_work")
    assert [i["id"] for i in now_ready["items"]] == [later["id"]]


async def test_closing_an_item_ends_its_claim_and_it_cannot_be_claimed(
    client: Client[Any],
) -> None:
    item = await task(client, "t")
    await call(client, "claim_work_item", id=item["id"], claimed_by="alice")
    dropped = await call(
        client, "update_work_item", id=item["id"], version=1, status="cancelled", updated_by="alice"
    )
    assert dropped["claimed_by"] is None and dropped["claim_expires_at"] is None
    refused = await fail(client, "claim_work_item", id=item["id"], claimed_by="bob")
    assert refused["error"] == "ValidationError" and "cancelled" in refused["message"]


async def test_releasing_a_claim_is_for_its_holder(client: Client[Any], clock: Clock) -> None:
    item = await task(client, "t")
    unclaimed = await call(client, "release_work_item", id=item["id"], claimed_by="bob")
    assert unclaimed["claimed_by"] is None and unclaimed["version"] == 1  # a no-op
    held = await call(
        client, "claim_work_item", id=item["id"], claimed_by="alice", lease_minutes=10
    )
    refused = await fail(client, "release_work_item", id=item["id"], claimed_by="bob")
    assert refused["error"] == "ConflictError"
    assert refused["details"]["claimed_by"] == "alice"
    assert refused["details"]["claim_expires_at"] == held["claim_expires_at"]
    still = await call(client, "query_work_item", id=item["id"])
    assert still["claimed_by"] == "alice"
    clock.advance(minutes=11)
    expired = await call(client, "release_work_item", id=item["id"], claimed_by="bob")
    assert expired["claimed_by"] is None  # an expired lease holds nobody back
    await call(client, "claim_work_item", id=item["id"], claimed_by="alice")
    mine = await call(client, "release_work_item", id=item["id"], claimed_by="alice")
    assert mine["claimed_by"] is None and mine["version"] == 1


async def test_changing_an_item_someone_else_holds_warns(client: Client[Any], clock: Clock) -> None:
    item = await task(client, "t")
    held = await call(
        client, "claim_work_item", id=item["id"], claimed_by="alice", lease_minutes=30
    )
    changed = await call(
        client, "update_work_item", id=item["id"], version=1, priority=0, updated_by="bob"
    )
    assert changed["priority"] == 0 and changed["version"] == 2  # applied all the same
    [warning] = changed["warnings"]
    assert "alice" in warning and held["claim_expires_at"] in warning
    unchanged = await call(
        client, "update_work_item", id=item["id"], version=2, priority=0, updated_by="bob"
    )
    assert len(unchanged["warnings"]) == 1  # said even when nothing changed
    by_holder = await call(
        client, "update_work_item", id=item["id"], version=2, priority=1, updated_by="alice"
    )
    assert by_holder["warnings"] == []
    clock.advance(minutes=31)
    after_lease = await call(
        client, "update_work_item", id=item["id"], version=3, priority=2, updated_by="bob"
    )
    assert after_lease["warnings"] == []


async def test_list_filters_by_label_priority_and_claim(client: Client[Any]) -> None:
    root = await project(client)
    a = await task(client, "a", root, labels=["backend", "pdf"], priority=0)
    b = await task(client, "b", root, labels=["frontend"], priority=0)
    c = await task(client, "c", root, labels=["backend_x"], priority=3)
    await call(client, "claim_work_item", id=b["id"], claimed_by="alice")
    await call(client, "claim_work_item", id=c["id"], claimed_by="bob")

    async def ids(**filters: Any) -> list[str]:
        found = await call(client, "list_work_items", **filters)
        assert found["total_count"] == len(found["items"]) and found["total_count_exact"]
        return sorted(i["id"] for i in found["items"])

    assert await ids(label="backend") == [a["id"]]  # "_" is no wildcard
    assert await ids(label="BACKEND") == [a["id"]]
    assert await ids(label="back") == []
    assert await ids(priority=0) == sorted([a["id"], b["id"]])
    assert await ids(priority=3, label="backend_x") == [c["id"]]
    assert await ids(claimed_by="alice") == [b["id"]]
    assert await ids(claimed_by="alice", label="pdf") == []
    full = await call(client, "list_work_items", claimed_by="bob", detail="full")
    assert full["items"][0]["claimed_by"] == "bob" and full["items"][0]["labels"] == ["backend_x"]
    bad = await fail(client, "list_work_items", label="not a label")
    assert bad["details"]["field"] == "label"


async def test_text_finds_description_and_acceptance_criteria(client: Client[Any]) -> None:
    described = await task(client, "one", description="Handles the ÜBERWEISUNG form")
    criteria = await task(client, "two", acceptance_criteria="totals MATCH the ledger")
    await task(client, "three", labels=["ledger"])  # labels are not text
    found = await call(client, "list_work_items", text="überweisung")
    assert [i["id"] for i in found["items"]] == [described["id"]]
    found = await call(client, "list_work_items", text="ledger")
    assert [i["id"] for i in found["items"]] == [criteria["id"]]
    await call(client, "update_work_item", id=criteria["id"], version=1, acceptance_criteria="none")
    await call(client, "update_work_item", id=described["id"], version=1, description="a ledger")
    found = await call(client, "list_work_items", text="ledger")
    assert [i["id"] for i in found["items"]] == [described["id"]]


async def test_cancelled_items_are_archived_and_listed_by_label(
    client: Client[Any], clock: Clock
) -> None:
    root = await project(client)
    dropped = await task(client, "dropped", root, labels=["old"])
    await call(client, "update_work_item", id=dropped["id"], version=1, status="cancelled")
    deferred = await task(client, "later", root, status="deferred")
    clock.advance(days=400)
    result = await call(client, "archive_work_items")
    assert result["ids"] == [dropped["id"]]
    archived = await call(client, "list_work_items", archived=True, label="old")
    assert [i["id"] for i in archived["items"]] == [dropped["id"]]
    assert archived["total_count_exact"] is True
    assert (await call(client, "query_work_item", id=deferred["id"]))["archived_at"] is None


async def test_total_count_is_exact_to_ten_thousand_then_a_lower_bound(
    app: App, clock: Clock
) -> None:
    now = clock()
    rows = [
        work_items.new_item(
            item_id=str(uuid4()),
            parent_path=None,
            item_type="task",
            title=f"t{n}",
            labels=["rare"] if n < 3 else [],
            now=now,
            actor="seed",
        ).row
        for n in range(EXACT_COUNT_LIMIT + 5)
    ]

    async def seed(conn: Any) -> None:
        for start in range(0, len(rows), 1000):
            await item_store.insert_many(conn, rows[start : start + 1000])

    await app.db.run(seed, write=True)
    with counting(app) as statements:
        page = await work_items.list_work_items(app, limit=1)
    assert page.total_count == EXACT_COUNT_LIMIT + 1 and page.total_count_exact is False
    assert len(page.items) == 1 and page.next_cursor is not None
    assert any("count(" in s.lower() and "limit" in s.lower() for s in statements)
    rare = await work_items.list_work_items(app, label="rare")
    assert (rare.total_count, rare.total_count_exact, len(rare.items)) == (3, True, 3)
