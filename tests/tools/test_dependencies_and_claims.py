from __future__ import annotations

from typing import Any

from fastmcp import Client

from conftest import Clock
from helpers import call, fail, project, task


async def test_dependencies_are_idempotent_and_removable(client: Client[Any]) -> None:
    a, b = await task(client, "a"), await task(client, "b")
    link = await call(
        client, "add_dependency", source_id=a["id"], target_id=b["id"], dependency_type="blocks"
    )
    assert (link["source_id"], link["target_id"], link["dependency_type"]) == (
        a["id"],
        b["id"],
        "blocks",
    )
    again = await call(
        client,
        "add_dependency",
        source_id=a["id"][:8],
        target_id=b["id"][:8],
        dependency_type="blocks",
    )
    assert again["created_at"] == link["created_at"]
    assert (
        await call(
            client,
            "remove_dependency",
            source_id=a["id"],
            target_id=b["id"],
            dependency_type="blocks",
        )
    )["removed"] is True
    assert (
        await call(
            client,
            "remove_dependency",
            source_id=a["id"],
            target_id=b["id"],
            dependency_type="blocks",
        )
    )["removed"] is False


async def test_self_links_and_cycles_are_rejected(client: Client[Any]) -> None:
    a, b, c = await task(client, "a"), await task(client, "b"), await task(client, "c")
    self_link = await fail(
        client, "add_dependency", source_id=a["id"], target_id=a["id"], dependency_type="blocks"
    )
    assert self_link["details"]["field"] == "target_id"
    await call(
        client, "add_dependency", source_id=a["id"], target_id=b["id"], dependency_type="blocks"
    )  # a before b
    await call(
        client, "add_dependency", source_id=c["id"], target_id=b["id"], dependency_type="depends_on"
    )  # b before c
    for source, target, kind in [
        (b["id"], a["id"], "blocks"),
        (a["id"], b["id"], "depends_on"),
        (c["id"], a["id"], "blocks"),
        (a["id"], c["id"], "depends_on"),
    ]:
        error = await fail(
            client, "add_dependency", source_id=source, target_id=target, dependency_type=kind
        )
        assert error["error"] == "ValidationError" and "cycle" in error["message"]
    ok = await call(
        client, "add_dependency", source_id=a["id"], target_id=c["id"], dependency_type="blocks"
    )  # consistent with a → b → c
    assert ok["dependency_type"] == "blocks"


async def test_dependency_on_deleted_item_is_rejected(client: Client[Any]) -> None:
    a, b = await task(client, "a"), await task(client, "b")
    await call(client, "update_work_item", id=b["id"], version=1, deleted=True)
    error = await fail(
        client, "add_dependency", source_id=a["id"], target_id=b["id"], dependency_type="depends_on"
    )
    assert error["details"]["field"] == "target_id"


async def test_ready_work_follows_dependencies_status_and_priority(client: Client[Any]) -> None:
    root = await project(client, priority=4)
    urgent = await task(client, "urgent", root, priority=0)
    needs = await task(client, "needs urgent", root, priority=0)
    blocked = await task(client, "blocked by needs", root, priority=1)
    await task(client, "stalled", root, status="blocked")
    await task(client, "finished", root, status="completed")
    await call(
        client,
        "add_dependency",
        source_id=needs["id"],
        target_id=urgent["id"],
        dependency_type="depends_on",
    )
    await call(
        client,
        "add_dependency",
        source_id=needs["id"],
        target_id=blocked["id"],
        dependency_type="blocks",
    )

    async def ready(**arguments: Any) -> list[str]:
        return [i["title"] for i in (await call(client, "ready_work", **arguments))["items"]]

    assert await ready() == ["urgent"]  # containers are handed out only when asked for
    assert await ready(item_type="project") == []  # it has open children
    assert await ready(item_type="task") == ["urgent"]
    assert await ready(parent_id=root["id"], limit=1) == ["urgent"]
    await call(client, "update_work_item", id=urgent["id"], version=1, status="completed")
    assert await ready(item_type="task") == ["needs urgent"]
    await call(client, "update_work_item", id=needs["id"], version=1, deleted=True)
    assert await ready(item_type="task") == ["blocked by needs"]


async def test_claims_lease_renew_conflict_and_release(backend: Any, clock: Clock) -> None:
    from worktrack.server import create_server

    async with Client(create_server(backend.settings(), clock=clock)) as c:
        first = await task(c, "first", priority=0)
        second = await task(c, "second", priority=1)
        claimed = await call(c, "claim_work_item", claimed_by="alice")
        assert claimed["id"] == first["id"] and claimed["claimed_by"] == "alice"
        assert claimed["version"] == 1  # claims do not change the version
        nxt = await call(c, "claim_work_item", claimed_by="bob", lease_minutes=5)
        assert nxt["id"] == second["id"]
        taken = await fail(c, "claim_work_item", id=first["id"], claimed_by="bob")
        assert taken["error"] == "ConflictError" and taken["details"]["claimed_by"] == "alice"
        renewed = await call(
            c, "claim_work_item", id=first["id"], claimed_by="alice", lease_minutes=60
        )
        assert renewed["claim_expires_at"] > claimed["claim_expires_at"]
        nothing = await fail(c, "claim_work_item", claimed_by="carol")
        assert nothing["error"] == "NotFoundError"
        assert [i["id"] for i in (await call(c, "ready_work"))["items"]] == []

        clock.advance(minutes=6)  # bob's 5-minute lease runs out
        stolen = await call(c, "claim_work_item", id=second["id"], claimed_by="carol")
        assert stolen["claimed_by"] == "carol"
        refused = await fail(c, "release_work_item", id=first["id"], claimed_by="bob")
        assert refused["error"] == "ConflictError"
        released = await call(c, "release_work_item", id=first["id"], claimed_by="alice")
        assert released["claimed_by"] is None and released["claim_expires_at"] is None
        done = await call(c, "update_work_item", id=second["id"], version=1, status="completed")
        assert done["claimed_by"] is None  # finishing an item ends its claim
        closed = await fail(c, "claim_work_item", id=second["id"])
        assert closed["error"] == "ValidationError"


def test_a_claim_holds_until_its_lease_ends_and_without_an_end_until_released() -> None:
    # The one rule the warning on update, the report and the board share with the SQL.
    from datetime import UTC, datetime, timedelta

    from worktrack.models.work_items import claim_holds

    now = datetime(2026, 12, 7, tzinfo=UTC)
    assert claim_holds("bob", now + timedelta(minutes=1), now)
    assert not claim_holds("bob", now, now)  # the lease's end is past at that moment
    assert claim_holds("bob", None, now)
    assert not claim_holds(None, None, now)
