"""The README's worked example, run as two assistants would with nothing but the tools: one
plans a session, claims the next ready task, leaves notes and completes it; the next one
picks up the newly ready task and reads the hand-off in the notes."""

from __future__ import annotations

from typing import Any

from fastmcp import Client

from helpers import call, fail

A, B = "assistant-a", "assistant-b"


async def _plan(client: Client[Any]) -> dict[str, dict[str, Any]]:
    project = await call(
        client,
        "create_work_item",
        item_type="project",
        title="Billing",
        description="Invoices and payments for the **shop**.",
        created_by=A,
    )
    session = await call(
        client,
        "create_work_item",
        item_type="session",
        title="Monthly invoices",
        parent_id=project["id"],
        description="Send an invoice on the first of each month.",
        created_by=A,
    )
    assert session["metadata"]["token_budget"] == 200_000  # the configuration's default
    made = {"project": project, "session": session}
    for title, priority, labels in (
        ("Invoice table", 1, ["DB", "backend"]),
        ("Monthly job", 1, ["backend", "cron"]),
        ("Document invoices", 3, ["docs"]),
    ):
        made[title] = await call(
            client,
            "create_work_item",
            item_type="task",
            title=title,
            parent_id=session["id"],
            priority=priority,
            labels=labels,
            description=f"{title}: what and why.",
            acceptance_criteria="- tests pass\n- reviewed",
            created_by=A,
        )
    await call(
        client,
        "add_dependency",
        source_id=made["Monthly job"]["id"],
        target_id=made["Invoice table"]["id"],
        dependency_type="depends_on",
    )
    return made


async def test_two_assistants_run_a_session_and_hand_off_through_notes(
    client: Client[Any],
) -> None:
    made = await _plan(client)
    session, table, job = made["session"], made["Invoice table"], made["Monthly job"]
    assert made["Invoice table"]["labels"] == ["backend", "db"]  # lower-cased, sorted

    # A: what can start now is the table (priority 1, one item waits on it), then the docs;
    # never the project or the session, never the job that waits on the table.
    ready = await call(client, "ready_work", parent_id=session["id"])
    assert [item["title"] for item in ready["items"]] == ["Invoice table", "Document invoices"]
    assert ready["items"][0]["unblocks"] == 1
    claimed = await call(client, "claim_work_item", claimed_by=A)
    assert (claimed["id"], claimed["claimed_by"]) == (table["id"], A)
    started = await call(
        client,
        "update_work_item",
        id=table["id"],
        version=claimed["version"],
        status="in_progress",
        updated_by=A,
    )
    await call(
        client,
        "add_note",
        work_item_id=table["id"],
        created_by=A,
        text="Table `invoices` made in migration 0012; amounts are integer cents.",
    )

    # B cannot take A's claim away while the lease lasts.
    assert (await fail(client, "claim_work_item", id=table["id"], claimed_by=B))["error"] == (
        "ConflictError"
    )
    assert (await fail(client, "release_work_item", id=table["id"], claimed_by=B))["error"] == (
        "ConflictError"
    )

    # A finishes: the job becomes ready.
    await call(
        client,
        "update_work_item",
        id=table["id"],
        version=started["version"],
        status="completed",
        updated_by=A,
    )
    await call(client, "release_work_item", id=table["id"], claimed_by=A)

    # B picks up the next ready item and reads the hand-off on what it depends on.
    picked = await call(client, "claim_work_item", claimed_by=B)
    assert picked["id"] == job["id"]
    detail = await call(client, "query_work_item", id=table["id"])
    assert detail["notes_count"] == 1
    assert "integer cents" in detail["notes"][0]["text"] and detail["notes"][0]["created_by"] == A
    progress = (await call(client, "query_work_item", id=session["id"]))["progress"]
    assert (progress["total"], progress["completed"], progress["percent_complete"]) == (3, 1, 33)
