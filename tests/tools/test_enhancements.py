from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import uuid4

import pytest
from fastmcp import Client

from worktrack.errors import NotFoundError
from worktrack.server import create_server
from worktrack.services.app import App
from worktrack.services.enhancements import history_id
from worktrack.store.history import for_entity

from conftest import Backend
from helpers import call, fail


async def enhancement(client: Client[Any], title: str, **extra: Any) -> dict[str, Any]:
    return await call(client, "create_enhancement", title=title, **extra)


async def history(app: App, ref: str) -> list[dict[str, Any]]:
    async def read(conn: Any) -> list[dict[str, Any]]:
        return await for_entity(conn, "enhancement", await history_id(conn, ref), 50)

    return await app.db.run(read)


async def test_create_with_defaults(client: Client[Any]) -> None:
    made = await enhancement(client, "Faster import")
    assert made["version"] == 1
    assert (made["priority"], made["status"]) == (3, "planned")
    assert made["description"] is None and made["target_quarter"] is None
    assert made["requires_constitutional_principles"] == [] and made["depends_on_ids"] == []
    assert made["created_by"] == made["updated_by"] == "mcp"
    assert made["created_at"] == made["updated_at"]
    assert made["data_source"] in ("sqlite", "postgresql") and made["warnings"] == []


async def test_create_with_every_field_and_history(client: Client[Any], app: App) -> None:
    base = await enhancement(client, "Base")
    other = await enhancement(client, "Other")
    made = await enhancement(
        client,
        "OCR",
        description="Read scans",
        priority=1,
        status="approved",
        target_quarter="2027-Q2",
        requires_constitutional_principles=["Library-first", "Test-first"],
        depends_on_ids=[other["id"][:8], base["id"]],
        created_by="alice",
    )
    assert made["depends_on_ids"] == sorted([base["id"], other["id"]])
    assert (made["priority"], made["status"], made["target_quarter"]) == (1, "approved", "2027-Q2")
    assert made["requires_constitutional_principles"] == ["Library-first", "Test-first"]
    assert made["created_by"] == "alice"
    [first] = await history(app, made["id"][:9])
    assert first["version"] == 1 and first["changed_by"] == "alice"
    assert first["changes"]["title"] == [None, "OCR"]
    assert first["changes"]["depends_on_ids"] == [None, made["depends_on_ids"]]


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"title": "bell\x07"}, "title"),
        ({"description": "d" * 5001}, "description"),
        ({"priority": 0}, "priority"),
        ({"priority": 6}, "priority"),
        ({"priority": "1"}, "priority"),
        ({"status": "done"}, "status"),
        ({"target_quarter": "2026-Q5"}, "target_quarter"),
        ({"target_quarter": "Q1 2026"}, "target_quarter"),
        ({"target_quarter": ""}, "target_quarter"),
        ({"requires_constitutional_principles": [""]}, "requires_constitutional_principles"),
        ({"requires_constitutional_principles": ["p" * 201]}, "requires_constitutional_principles"),
        ({"requires_constitutional_principles": ["p"] * 51}, "requires_constitutional_principles"),
        ({"depends_on_ids": ["xyz"]}, "depends_on_ids"),
        ({"created_by": "a" * 101}, "created_by"),
    ],
)
async def test_create_rejects_bad_values(
    client: Client[Any], arguments: dict[str, Any], field: str
) -> None:
    error = await fail(client, "create_enhancement", **({"title": "ok"} | arguments))
    assert error["error"] == "ValidationError"
    assert error["details"]["field"].startswith(field)
    assert (await call(client, "list_enhancements"))["total_count"] == 0


async def test_create_rejects_unknown_and_repeated_dependencies(client: Client[Any]) -> None:
    base = await enhancement(client, "Base")
    unknown = await fail(client, "create_enhancement", title="x", depends_on_ids=[str(uuid4())])
    assert unknown["error"] == "NotFoundError" and unknown["details"]["kind"] == "enhancement"
    unknown_prefix = await fail(client, "create_enhancement", title="x", depends_on_ids=["0" * 8])
    assert unknown_prefix["error"] == "NotFoundError"
    twice = await fail(
        client, "create_enhancement", title="x", depends_on_ids=[base["id"], base["id"][:8]]
    )
    assert twice["error"] == "ValidationError"
    assert twice["details"]["field"] == "depends_on_ids"
    assert (await call(client, "list_enhancements"))["total_count"] == 1


async def test_update_bumps_the_version_once_per_change_and_logs_it(
    client: Client[Any], app: App
) -> None:
    made = await enhancement(client, "Draft", description="first", target_quarter="2027-Q1")
    dep_a, dep_b = await enhancement(client, "A"), await enhancement(client, "B")
    steps: list[tuple[dict[str, Any], dict[str, list[Any]]]] = [
        ({"title": "Final", "priority": 2}, {"title": ["Draft", "Final"], "priority": [3, 2]}),
        ({"status": "implementing"}, {"status": ["planned", "implementing"]}),
        (
            {"description": "", "target_quarter": ""},
            {
                "description": ["first", None],
                "target_quarter": ["2027-Q1", None],
            },
        ),
        (
            {"requires_constitutional_principles": ["Simplicity"]},
            {"requires_constitutional_principles": [[], ["Simplicity"]]},
        ),
        (
            {"depends_on_ids": [dep_b["id"], dep_a["id"][:8]]},
            {"depends_on_ids": [[], sorted([dep_a["id"], dep_b["id"]])]},
        ),
        (
            {"depends_on_ids": [dep_a["id"]]},
            {"depends_on_ids": [sorted([dep_a["id"], dep_b["id"]]), [dep_a["id"]]]},
        ),
        ({"depends_on_ids": []}, {"depends_on_ids": [[dep_a["id"]], []]}),
    ]
    current = made
    for version, (change, logged) in enumerate(steps, start=1):
        updated = await call(
            client,
            "update_enhancement",
            id=made["id"][:8],
            version=version,
            updated_by="bob",
            **change,
        )
        assert updated["version"] == version + 1
        assert updated["updated_at"] > current["updated_at"]
        assert updated["created_at"] == made["created_at"] and updated["updated_by"] == "bob"
        [latest, *_] = await history(app, made["id"])
        assert (latest["version"], latest["changed_by"]) == (version + 1, "bob")
        assert latest["changes"] == logged
        current = updated
    assert current["description"] is None and current["target_quarter"] is None
    assert current["depends_on_ids"] == [] and current["title"] == "Final"
    assert len(await history(app, made["id"])) == len(steps) + 1


async def test_update_without_changes_keeps_the_version(client: Client[Any], app: App) -> None:
    dep_a, dep_b = await enhancement(client, "A"), await enhancement(client, "B")
    made = await enhancement(client, "Same", priority=2, depends_on_ids=[dep_a["id"], dep_b["id"]])
    again = await call(
        client,
        "update_enhancement",
        id=made["id"],
        version=1,
        title="Same",
        priority=2,
        description="",
        depends_on_ids=[dep_b["id"][:8], dep_a["id"]],  # same set, other order and spelling
    )
    assert again["version"] == 1 and again["updated_at"] == made["updated_at"]
    assert len(await history(app, made["id"])) == 1


async def test_update_errors(client: Client[Any]) -> None:
    made = await enhancement(client, "E")
    nothing = await fail(client, "update_enhancement", id=made["id"], version=1)
    assert nothing["details"]["field"] == "arguments"
    missing = await fail(client, "update_enhancement", id=str(uuid4()), version=1, title="x")
    assert missing["error"] == "NotFoundError" and missing["details"]["kind"] == "enhancement"
    bad_priority = await fail(client, "update_enhancement", id=made["id"], version=1, priority=9)
    assert bad_priority["details"]["field"] == "priority"
    bad_quarter = await fail(
        client, "update_enhancement", id=made["id"], version=1, target_quarter="2026Q1"
    )
    assert bad_quarter["details"]["field"] == "target_quarter"
    assert (await call(client, "list_enhancements"))["items"][0]["version"] == 1


async def test_dependencies_refuse_self_repeats_unknown_and_cycles(client: Client[Any]) -> None:
    a = await enhancement(client, "A")
    b = await enhancement(client, "B", depends_on_ids=[a["id"]])
    c = await enhancement(client, "C", depends_on_ids=[b["id"]])
    cases: list[tuple[list[str], str]] = [
        ([a["id"]], "ValidationError"),  # self
        ([b["id"], b["id"][:8]], "ValidationError"),  # repeated
        ([b["id"]], "ValidationError"),  # a -> b -> a
        ([c["id"][:10]], "ValidationError"),  # a -> c -> b -> a
        ([str(uuid4())], "NotFoundError"),
    ]
    for depends_on, name in cases:
        error = await fail(
            client, "update_enhancement", id=a["id"], version=1, depends_on_ids=depends_on
        )
        assert error["error"] == name, depends_on
        if name == "ValidationError":
            assert error["details"]["field"] == "depends_on_ids"
    cycle = await fail(
        client, "update_enhancement", id=a["id"], version=1, depends_on_ids=[c["id"]]
    )
    assert c["id"] in cycle["details"]["constraint"]
    listed = {e["title"]: e for e in (await call(client, "list_enhancements"))["items"]}
    assert listed["A"]["version"] == 1 and listed["A"]["depends_on_ids"] == []
    # a diamond is not a cycle
    d = await call(
        client, "update_enhancement", id=c["id"], version=1, depends_on_ids=[a["id"], b["id"]]
    )
    assert d["depends_on_ids"] == sorted([a["id"], b["id"]])


@pytest.mark.parametrize(
    "change",
    [
        {"title": "t2"},
        {"description": "d"},
        {"description": ""},
        {"priority": 1},
        {"status": "completed"},
        {"target_quarter": "2028-Q4"},
        {"target_quarter": ""},
        {"requires_constitutional_principles": []},
        {"depends_on_ids": []},
        {"depends_on_ids": ["other"]},
    ],
)
async def test_every_change_rejects_a_stale_version(
    client: Client[Any], change: dict[str, Any]
) -> None:
    other = await enhancement(client, "Other")
    made = await enhancement(
        client,
        "E",
        description="keep",
        target_quarter="2027-Q3",
        requires_constitutional_principles=["P"],
        depends_on_ids=[other["id"]],
    )
    await call(
        client, "update_enhancement", id=made["id"], version=1, title="moved on", updated_by="alice"
    )
    if change.get("depends_on_ids") == ["other"]:
        change = {"depends_on_ids": [(await enhancement(client, "Third"))["id"]]}
    error = await fail(client, "update_enhancement", id=made["id"], version=1, **change)
    assert error["error"] == "VersionConflictError"
    details = error["details"]
    assert (details["expected_version"], details["current_version"]) == (1, 2)
    assert details["last_updated_by"] == "alice"
    assert details["current"]["title"] == "moved on" and details["current"]["version"] == 2
    listed = {e["title"]: e for e in (await call(client, "list_enhancements"))["items"]}
    after = listed["moved on"]
    assert after["version"] == 2
    assert (after["description"], after["priority"], after["status"]) == ("keep", 3, "planned")
    assert after["target_quarter"] == "2027-Q3"
    assert after["requires_constitutional_principles"] == ["P"]
    assert after["depends_on_ids"] == [other["id"]]


async def test_list_orders_by_priority_then_quarter_and_filters(client: Client[Any]) -> None:
    specs = [
        ("p2 none", 2, None, "planned"),
        ("p1 2027-Q1", 1, "2027-Q1", "approved"),
        ("p2 2026-Q4", 2, "2026-Q4", "planned"),
        ("p1 none", 1, None, "planned"),
        ("p2 2027-Q2", 2, "2027-Q2", "completed"),
        ("p1 2026-Q1", 1, "2026-Q1", "planned"),
        ("p5 2026-Q1", 5, "2026-Q1", "implementing"),
    ]
    for title, priority, quarter, status in specs:
        extra = {"target_quarter": quarter} if quarter else {}
        await enhancement(client, title, priority=priority, status=status, **extra)

    async def titles(**filters: Any) -> list[str]:
        page = await call(client, "list_enhancements", **filters)
        assert page["total_count"] == len(page["items"]) and page["next_cursor"] is None
        return [e["title"] for e in page["items"]]

    assert await titles() == [
        "p1 2026-Q1",
        "p1 2027-Q1",
        "p1 none",
        "p2 2026-Q4",
        "p2 2027-Q2",
        "p2 none",
        "p5 2026-Q1",
    ]
    assert await titles(priority=2) == ["p2 2026-Q4", "p2 2027-Q2", "p2 none"]
    assert await titles(status="planned") == ["p1 2026-Q1", "p1 none", "p2 2026-Q4", "p2 none"]
    assert await titles(target_quarter="2026-Q1") == ["p1 2026-Q1", "p5 2026-Q1"]
    assert await titles(priority=1, status="approved") == ["p1 2027-Q1"]
    assert await titles(priority=4) == []
    for bad in ({"priority": 0}, {"status": "done"}, {"target_quarter": "2026"}):
        error = await fail(client, "list_enhancements", **bad)
        assert error["details"]["field"] == next(iter(bad))


async def test_pagination_walks_every_enhancement_once_in_order(client: Client[Any]) -> None:
    quarters = [None, "2026-Q1", "2026-Q2", None]
    for n in range(11):
        quarter = quarters[n % 4]
        extra = {"target_quarter": quarter} if quarter else {}
        await enhancement(client, f"e{n}", priority=1 + n % 3, **extra)
    whole = await call(client, "list_enhancements")
    seen: list[str] = []
    cursor = None
    while True:
        page = await call(
            client, "list_enhancements", limit=2, **({"cursor": cursor} if cursor else {})
        )
        assert page["total_count"] == 11 and len(page["items"]) <= 2
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in whole["items"]] and len(set(seen)) == 11

    first = await call(client, "list_enhancements", limit=1)
    other_filter = await fail(
        client, "list_enhancements", limit=1, priority=1, cursor=first["next_cursor"]
    )
    assert other_filter["details"]["field"] == "cursor"
    garbage = await fail(client, "list_enhancements", cursor="bm90IGEgY3Vyc29y")
    assert garbage["details"]["field"] == "cursor"
    for limit in (0, 201):
        error = await fail(client, "list_enhancements", limit=limit)
        assert error["details"]["field"] == "limit"


async def test_repeated_request_id_applies_once(client: Client[Any], app: App) -> None:
    made = await enhancement(client, "E", request_id="enh-1")
    again = await enhancement(client, "E", request_id="enh-1")
    assert again == made
    assert (await call(client, "list_enhancements"))["total_count"] == 1
    first = await call(
        client,
        "update_enhancement",
        id=made["id"],
        version=1,
        status="approved",
        request_id="enh-2",
    )
    retry = await call(
        client,
        "update_enhancement",
        id=made["id"],
        version=1,
        status="approved",
        request_id="enh-2",
    )
    assert retry == first and retry["version"] == 2
    assert len(await history(app, made["id"])) == 2
    reused = await fail(client, "create_enhancement", title="other", request_id="enh-1")
    assert reused["details"]["field"] == "request_id"


async def test_history_id_accepts_prefixes_and_refuses_unknown_ids(
    client: Client[Any], app: App
) -> None:
    made = await enhancement(client, "E")
    assert await app.db.run(lambda conn: history_id(conn, made["id"][:8].upper())) == made["id"]
    with pytest.raises(NotFoundError) as raised:
        await app.db.run(lambda conn: history_id(conn, str(uuid4())))
    assert raised.value.kind == "enhancement"


@pytest.mark.postgres
async def test_concurrent_updates_cannot_close_a_cycle_together(pg_backend: Backend) -> None:
    async with Client(create_server(pg_backend.settings())) as setup:
        pairs = [
            (await enhancement(setup, f"A{n}"), await enhancement(setup, f"B{n}")) for n in range(5)
        ]

    async def link(source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
        async with Client(create_server(pg_backend.settings())) as client:
            result = await client.call_tool(
                "update_enhancement",
                {"id": source["id"], "version": 1, "depends_on_ids": [target["id"]]},
                raise_on_error=False,
            )
        if result.is_error:
            return dict(json.loads(result.content[0].text))  # type: ignore[union-attr]
        assert isinstance(result.structured_content, dict)
        return result.structured_content

    for a, b in pairs:
        results = await asyncio.gather(link(a, b), link(b, a))
        errors = [r for r in results if "error" in r]
        assert len(errors) == 1, results
        assert errors[0]["details"]["field"] == "depends_on_ids"
