"""The readiness rule (contract §4 ready_work, blocked_work, claim without id), on both
databases: every rule, the order and its ties, ancestors several levels up, claims."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastmcp import Client
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from worktrack.server import create_server
from worktrack.tables import work_items

from conftest import Backend, Clock
from helpers import call, fail, project, task


@pytest.fixture
async def me(backend: Backend, clock: Clock) -> AsyncIterator[Client[Any]]:
    """A client whose actor is "me" (claims by others are told apart from mine)."""
    async with Client(create_server(backend.settings(actor="me"), clock=clock)) as connected:
        yield connected


async def stored(backend: Backend, item_id: str, **values: Any) -> None:
    """Set columns no tool writes (``created_at``: two items created at the same moment)."""
    engine = create_async_engine(backend.url)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(work_items).where(work_items.c.id == item_id).values(values))
    finally:
        await engine.dispose()


async def ready(client: Client[Any], **arguments: Any) -> list[str]:
    return [i["title"] for i in (await call(client, "ready_work", **arguments))["items"]]


async def blocked(client: Client[Any], **arguments: Any) -> dict[str, list[tuple[str, str]]]:
    """Each blocked item's title → its blockers as (title, via)."""
    found = (await call(client, "blocked_work", **arguments))["items"]
    return {i["title"]: [(b["title"], b["via"]) for b in i["blocked_by"]] for i in found}


async def link(
    client: Client[Any], source: dict[str, Any], target: dict[str, Any], kind: str
) -> None:
    await call(
        client,
        "add_dependency",
        source_id=source["id"],
        target_id=target["id"],
        dependency_type=kind,
    )


async def set_status(client: Client[Any], item: dict[str, Any], status: str) -> dict[str, Any]:
    current = await call(client, "query_work_item", id=item["id"])
    return await call(
        client, "update_work_item", id=item["id"], version=current["version"], status=status
    )


async def chain(client: Client[Any]) -> list[dict[str, Any]]:
    """A project, a session and four tasks, each under the one before: depths 0..5."""
    made = [await project(client, "P")]
    made.append(
        await call(
            client,
            "create_work_item",
            item_type="session",
            title="S",
            parent_id=made[0]["id"],
            metadata={
                "token_budget": 50_000,
                "prompts_count": 0,
                "yaml_frontmatter": {"schema_version": "1.0"},
            },
        )
    )
    for title in ("T2", "T3", "T4", "T5"):
        made.append(await task(client, title, made[-1]))
    return made


async def test_only_leaf_tasks_are_handed_out_unless_containers_are_asked_for(
    me: Client[Any],
) -> None:
    root = await project(me, "P")
    research = await call(
        me, "create_work_item", item_type="research", title="R", parent_id=root["id"]
    )
    parent = await task(me, "parent", root)
    child = await task(me, "child", parent)
    assert await ready(me) == ["R", "child"]  # P and parent have open children
    assert await ready(me, item_type="project") == []
    assert await ready(me, item_type="research") == ["R"]

    await set_status(me, child, "completed")
    assert await ready(me) == ["R", "parent"]  # a closed child holds nothing back
    await set_status(me, parent, "cancelled")
    await set_status(me, research, "in_progress")  # started: not "ready" any more
    assert await ready(me) == []
    assert await ready(me, item_type="project") == []  # a started child is open
    await set_status(me, research, "completed")
    assert await ready(me, item_type="project") == ["P"]


async def test_a_started_child_still_holds_its_parent(me: Client[Any]) -> None:
    parent = await task(me, "parent")
    child = await task(me, "child", parent)
    for status in ("in_progress", "blocked", "deferred"):
        await set_status(me, child, status)
        assert await ready(me) == [], status
    gone = await call(me, "query_work_item", id=child["id"])
    await call(me, "update_work_item", id=child["id"], version=gone["version"], deleted=True)
    assert await ready(me) == ["parent"]  # a deleted child is no open child


async def test_an_unmet_dependency_up_the_tree_holds_the_whole_subtree(me: Client[Any]) -> None:
    p, _, _, t3, _, t5 = await chain(me)
    outside = await task(me, "outside")
    assert await ready(me) == ["T5", "outside"]

    await link(me, p, outside, "depends_on")  # the project (depth 0) waits on outside
    assert await ready(me) == ["outside"]
    held = await blocked(me)
    assert held["T5"] == [("outside", "ancestor")]
    assert held["P"] == [("outside", "dependency")]
    assert set(held) == {"P", "S", "T2", "T3", "T4", "T5"}
    assert await blocked(me, parent_id=t3["id"]) == {
        "T4": [("outside", "ancestor")],
        "T5": [("outside", "ancestor")],
    }

    await set_status(me, outside, "cancelled")  # closed: cancelled satisfies too
    assert await ready(me) == ["T5"]
    assert await blocked(me) == {}

    other = await task(me, "other")
    await link(me, other, t3, "blocks")  # other blocks T3 (depth 3)
    assert await ready(me) == ["other"]
    assert (await blocked(me))["T5"] == [("other", "ancestor")]
    await call(
        me, "remove_dependency", source_id=other["id"], target_id=t3["id"], dependency_type="blocks"
    )
    assert await ready(me) == ["T5", "other"]

    await link(me, t5, other, "depends_on")  # the leaf itself waits
    assert (await blocked(me))["T5"] == [("other", "dependency")]
    gone = await call(me, "query_work_item", id=other["id"])
    await call(me, "update_work_item", id=other["id"], version=gone["version"], deleted=True)
    assert await ready(me) == ["T5"]  # a deleted blocker blocks nothing


@pytest.mark.parametrize(
    ("status", "holds"),
    [
        ("blocked", True),
        ("deferred", True),
        ("cancelled", True),
        ("in_progress", False),
        ("completed", False),
    ],
)
async def test_an_ancestors_status_can_hold_its_subtree(
    me: Client[Any], status: str, holds: bool
) -> None:
    _, session, *_ = await chain(me)
    await set_status(me, session, status)
    assert await ready(me) == ([] if holds else ["T5"])


async def test_blocked_work_lists_blocked_statuses_with_their_reason(
    me: Client[Any], backend: Backend
) -> None:
    root = await project(me, "P")
    await task(
        me,
        "stalled",
        root,
        status="blocked",
        metadata={"blocked_reason": "needs a sample"},
        labels=["ops", "parsing"],
    )
    plain = await task(me, "plain", root, status="blocked", priority=0)
    await task(me, "deferred", root, status="deferred")
    found = (await call(me, "blocked_work"))["items"]
    assert [i["title"] for i in found] == ["plain", "stalled"]  # priority first
    assert found[1]["blocked_by"] == [] and found[1]["blocked_reason"] == "needs a sample"
    assert found[0]["blocked_reason"] is None
    assert [i["title"] for i in (await call(me, "blocked_work", label="ops"))["items"]] == [
        "stalled"
    ]
    assert (await call(me, "blocked_work", label="op"))["items"] == []  # whole labels only
    assert [i["title"] for i in (await call(me, "blocked_work", limit=1))["items"]] == ["plain"]
    await set_status(me, plain, "completed")
    assert list(await blocked(me)) == ["stalled"]


async def test_order_is_priority_then_unblocks_then_age_then_id(
    me: Client[Any], backend: Backend
) -> None:
    old = await task(me, "old", priority=1)
    young = await task(me, "young", priority=1)
    busy = await task(me, "busy", priority=1)
    await task(me, "urgent", priority=0)
    assert await ready(me) == ["urgent", "old", "young", "busy"]

    waiters = [await task(me, f"waiter {n}", priority=4) for n in range(3)]
    await link(me, busy, waiters[0], "blocks")
    await link(me, waiters[1], busy, "depends_on")
    await link(me, busy, waiters[1], "blocks")  # the same waiter twice counts once
    await link(me, young, waiters[2], "blocks")
    items = (await call(me, "ready_work"))["items"]
    assert [(i["title"], i["unblocks"]) for i in items] == [
        ("urgent", 0),
        ("busy", 2),
        ("young", 1),
        ("old", 0),
    ]
    await set_status(me, waiters[0], "completed")  # a closed waiter waits on nothing
    assert [i["unblocks"] for i in (await call(me, "ready_work"))["items"]] == [0, 1, 1, 0]

    same = old["created_at"]  # a tie on age: the id decides
    await stored(backend, young["id"], created_at=_parse(same))
    await stored(backend, busy["id"], created_at=_parse(same))
    await set_status(me, waiters[2], "completed")
    await set_status(me, waiters[1], "completed")
    tied = sorted([old, young, busy], key=lambda i: i["id"])
    assert await ready(me) == ["urgent", *(i["title"] for i in tied)]
    assert await ready(me, limit=2) == ["urgent", tied[0]["title"]]


def _parse(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value)


async def test_description_preview_labels_and_scope(me: Client[Any], backend: Backend) -> None:
    root = await project(me, "P")
    await task(me, "first", root, description="é" * 250 + "x" * 100, labels=["API", "db"])
    second = await task(me, "second")
    items = (await call(me, "ready_work"))["items"]
    assert items[0]["description"] == "é" * 250 + "x" * 50  # the first 300 characters
    assert items[1]["description"] is None
    assert await ready(me, label="API") == ["first"]  # labels are lower-case
    assert await ready(me, label="ap") == []
    for bad in ("a%", "_pi", "a b"):
        error = await fail(me, "ready_work", label=bad)
        assert error["details"]["field"] == "label"
    assert await ready(me, parent_id=root["id"]) == ["first"]
    assert await ready(me, parent_id=second["id"]) == []  # below it, not it


async def test_claims_by_others_hide_an_item_until_their_lease_ends(
    me: Client[Any], clock: Clock
) -> None:
    first = await task(me, "first", priority=0)
    await task(me, "second", priority=1)
    await call(me, "claim_work_item", id=first["id"], claimed_by="other", lease_minutes=10)
    assert await ready(me) == ["second"]
    nxt = await call(me, "claim_work_item")  # without id: the first ready item, for me
    assert nxt["title"] == "second" and nxt["claimed_by"] == "me"
    assert await ready(me) == ["second"]  # my own claim does not hide it from me
    clock.advance(minutes=11)
    assert await ready(me) == ["first", "second"]
    again = await call(me, "claim_work_item", claimed_by="third")
    assert again["id"] == first["id"]  # the other's lease ran out


async def test_claim_without_id_follows_the_readiness_rule(me: Client[Any]) -> None:
    p, *_ = await chain(me)
    outside = await task(me, "outside", priority=4)
    await link(me, p, outside, "depends_on")
    claimed = await call(me, "claim_work_item")
    assert claimed["id"] == outside["id"]  # not the project, not the held leaf
    nothing = await fail(me, "claim_work_item", claimed_by="other")  # mine now: nothing left
    assert nothing["error"] == "NotFoundError"
    again = await call(me, "claim_work_item")  # the same actor asking again renews its own
    assert again["id"] == outside["id"]


@pytest.mark.postgres
async def test_racing_claims_without_id_never_share_an_item(pg_backend: Backend) -> None:
    async with Client(create_server(pg_backend.settings())) as setup:
        made = {(await task(setup, f"t{n}", priority=n % 5))["id"] for n in range(8)}

    async def claimer(n: int) -> str | None:
        async with Client(create_server(pg_backend.settings(actor=f"c{n}"))) as client:
            result = await client.call_tool("claim_work_item", {}, raise_on_error=False)
            if result.is_error:
                assert "NotFoundError" in result.content[0].text  # type: ignore[union-attr]
                return None
            found: str = result.structured_content["id"]  # type: ignore[index]
            return found

    claimed = [got for got in await asyncio.gather(*(claimer(n) for n in range(12))) if got]
    assert len(claimed) == len(set(claimed))  # never the same item twice
    assert set(claimed) == made  # 12 claimers, 8 items: each handed out exactly once


async def test_blocked_by_lists_each_blocker_once_own_first(me: Client[Any]) -> None:
    root = await project(me, "P")
    leaf = await task(me, "leaf", root)
    b1, b2, b3 = [await task(me, f"b{n}", priority=n - 1) for n in (1, 2, 3)]
    await link(me, leaf, b3, "depends_on")
    await link(me, b2, leaf, "blocks")
    await link(me, root, b2, "depends_on")  # b2 also holds the ancestor: listed as own
    await link(me, b1, root, "blocks")
    assert (await blocked(me))["leaf"] == [
        ("b2", "dependency"),
        ("b3", "dependency"),
        ("b1", "ancestor"),
    ]
