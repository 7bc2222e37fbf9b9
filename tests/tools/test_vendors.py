from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from fastmcp import Client

from worktrack.errors import NotFoundError
from worktrack.server import create_server
from worktrack.services import vendors
from worktrack.services.app import App
from worktrack.store import history

from conftest import Backend
from helpers import call, fail

META: dict[str, Any] = {
    "format_support": {"excel": True, "csv": True, "pdf": False, "ocr": False},
    "test_results": {"passing": 45, "total": 50, "skipped": 2},
}


async def vendor(client: Client[Any], name: str = "Acme", **extra: Any) -> dict[str, Any]:
    arguments = {"extractor_version": "1.0.0", "metadata": META} | extra
    return await call(client, "create_vendor", name=name, **arguments)


async def changes(app: App, ref: str) -> list[dict[str, Any]]:
    """The vendor's history rows, newest first, as get_history(entity="vendor") reads them."""

    async def read(conn: Any) -> list[dict[str, Any]]:
        return await history.for_entity(conn, "vendor", await vendors.history_id(conn, ref), 50)

    return await app.db.run(read)


def entity(result: dict[str, Any]) -> dict[str, Any]:
    """A result without its envelope, as listings and error details show it."""
    return {k: v for k, v in result.items() if k not in ("data_source", "warnings", "queued")}


async def listed(client: Client[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await call(client, "list_vendors"))["items"]
    return found


async def test_create_returns_the_vendor_at_version_one(
    client: Client[Any], backend: Backend
) -> None:
    made = await vendor(client)
    assert made["version"] == 1 and made["name"] == "Acme" and made["status"] == "operational"
    assert made["extractor_version"] == "1.0.0"
    assert made["metadata"] == {**META, "extractor_version": "1.0.0"}  # filled in
    assert made["created_by"] == made["updated_by"] == "mcp"
    assert made["created_at"] == made["updated_at"] and made["created_at"].endswith("+00:00")
    source = {"sqlite": "sqlite", "postgres": "postgresql"}[backend.name]
    assert (made["data_source"], made["warnings"], made["queued"]) == (source, [], False)
    found = await call(client, "query_vendor_status", name="Acme")
    assert entity(found) == entity(made) and "queued" not in found


async def test_create_takes_status_flags_and_actor(client: Client[Any]) -> None:
    metadata = {
        "format_support": {**META["format_support"], "xml": True},
        "test_results": {"passing": 0, "total": 0, "skipped": 0},
        "extractor_version": "2.1",
        "manifest_compliant": True,
    }
    made = await call(
        client,
        "create_vendor",
        name="Broken Co",
        extractor_version="2.1",
        metadata=metadata,
        status="broken",
        created_by="alice",
    )
    assert made["status"] == "broken" and made["created_by"] == made["updated_by"] == "alice"
    assert made["metadata"] == metadata


async def test_names_are_stored_as_given_and_shown_revealed(client: Client[Any]) -> None:
    made = await vendor(client, "evil\u202eexe")
    assert made["name"] == "evil\\u202eexe"
    found = await call(client, "query_vendor_status", name="EVIL\u202eEXE")
    assert found["id"] == made["id"]


def _without(data: dict[str, Any], *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    target = copy
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return copy


def _with(data: dict[str, Any], value: Any, *path: str) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


BAD_CREATES = [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),
    ({"name": "two\nlines"}, "name"),
    ({"name": "tab\there"}, "name"),
    ({"name": "nul\x00"}, "name"),
    ({"name": "ß" * 60}, "name"),  # 120 characters once case is folded
    ({"extractor_version": ""}, "extractor_version"),
    ({"extractor_version": "1" * 51}, "extractor_version"),
    ({"status": "retired"}, "status"),
    ({"metadata": _without(META, "format_support")}, "metadata.format_support"),
    ({"metadata": _without(META, "test_results")}, "metadata.test_results"),
    ({"metadata": _without(META, "format_support", "ocr")}, "metadata.format_support.ocr"),
    ({"metadata": _without(META, "test_results", "skipped")}, "metadata.test_results.skipped"),
    ({"metadata": _with(META, "yes", "format_support", "excel")}, "metadata.format_support.excel"),
    ({"metadata": _with(META, 1, "format_support", "xml")}, "metadata.format_support.xml"),
    ({"metadata": _with(META, "45", "test_results", "passing")}, "metadata.test_results.passing"),
    ({"metadata": _with(META, True, "test_results", "total")}, "metadata.test_results.total"),
    ({"metadata": _with(META, -1, "test_results", "skipped")}, "metadata.test_results.skipped"),
    ({"metadata": _with(META, 49, "test_results", "passing")}, "metadata.test_results"),
    ({"metadata": _with(META, 1, "test_results", "failing")}, "metadata.test_results.failing"),
    ({"metadata": _with(META, "me", "owner")}, "metadata.owner"),
    ({"metadata": _with(META, "yes", "manifest_compliant")}, "metadata.manifest_compliant"),
    ({"metadata": _with(META, 2, "extractor_version")}, "metadata.extractor_version"),
    ({"metadata": _with(META, "2.0", "extractor_version")}, "metadata.extractor_version"),
]


@pytest.mark.parametrize(("change", "field"), BAD_CREATES)
async def test_create_rejects_bad_input(
    client: Client[Any], change: dict[str, Any], field: str
) -> None:
    arguments = {"name": "Acme", "extractor_version": "1.0.0", "metadata": META} | change
    error = await fail(client, "create_vendor", **arguments)
    assert error["error"] == "ValidationError"
    assert error["details"]["field"] == field
    assert await listed(client) == []


async def test_create_requires_metadata(client: Client[Any]) -> None:
    error = await fail(client, "create_vendor", name="Acme", extractor_version="1")
    assert error["error"] == "ValidationError" and error["details"]["field"] == "metadata"
    assert await listed(client) == []


async def test_a_name_taken_in_another_case_is_a_conflict(client: Client[Any]) -> None:
    made = await vendor(client, "Acme")
    for other in ("ACME", "acme", "aCmE"):
        error = await fail(
            client, "create_vendor", name=other, extractor_version="9", metadata=META
        )
        assert error["error"] == "ConflictError"
        assert error["details"] == {"name": "Acme", "id": made["id"]}
        assert "Acme" in error["message"]
    assert [v["name"] for v in await listed(client)] == ["Acme"]
    folded = await vendor(client, "STRASSE")
    error = await fail(client, "create_vendor", name="straße", extractor_version="1", metadata=META)
    assert error["details"]["id"] == folded["id"]


async def test_query_matches_the_name_in_any_case(client: Client[Any]) -> None:
    made = await vendor(client, "Acme")
    for name in ("Acme", "ACME", "acme"):
        found = await call(client, "query_vendor_status", name=name)
        assert {k: found[k] for k in ("id", "name", "version")} == {
            "id": made["id"],
            "name": "Acme",
            "version": 1,
        }
    missing = await fail(client, "query_vendor_status", name="Nobody")
    assert missing["error"] == "NotFoundError"
    assert missing["details"] == {"kind": "vendor", "name": "Nobody"}
    blank = await fail(client, "query_vendor_status", name="")
    assert blank["details"]["field"] == "name"


async def test_update_changes_status_and_bumps_the_version_by_one(
    client: Client[Any], app: App
) -> None:
    made = await vendor(client)
    broken = await call(
        client, "update_vendor_status", name="acme", version=1, status="broken", updated_by="bob"
    )
    assert broken["version"] == 2 and broken["status"] == "broken"
    assert broken["updated_by"] == "bob" and broken["created_by"] == "mcp"
    assert broken["updated_at"] > made["updated_at"] and broken["created_at"] == made["created_at"]
    assert broken["metadata"] == made["metadata"]
    fixed = await call(client, "update_vendor_status", name="ACME", version=2, status="operational")
    assert fixed["version"] == 3
    rows = await changes(app, "Acme")
    assert [row["version"] for row in rows] == [3, 2, 1]
    assert rows[0]["changes"] == {"status": ["broken", "operational"]}
    assert rows[1]["changes"] == {"status": ["operational", "broken"]}
    assert rows[1]["changed_by"] == "bob"
    assert rows[2]["changes"] == {
        "name": [None, "Acme"],
        "status": [None, "operational"],
        "extractor_version": [None, "1.0.0"],
        "metadata": [None, made["metadata"]],
    }


async def test_extractor_version_and_metadata_always_agree(client: Client[Any]) -> None:
    await vendor(client, metadata={**META, "manifest_compliant": True})
    top = await call(
        client, "update_vendor_status", name="Acme", version=1, extractor_version="1.1"
    )
    assert top["extractor_version"] == top["metadata"]["extractor_version"] == "1.1"
    assert top["metadata"]["manifest_compliant"] is True  # the rest of the metadata stays

    inner = await call(
        client,
        "update_vendor_status",
        name="Acme",
        version=2,
        metadata={**META, "extractor_version": "1.2"},
    )
    assert inner["extractor_version"] == inner["metadata"]["extractor_version"] == "1.2"
    assert "manifest_compliant" not in inner["metadata"]  # metadata given replaces the stored

    kept = await call(
        client,
        "update_vendor_status",
        name="Acme",
        version=3,
        metadata=_with(META, 60, "test_results", "total"),
    )
    assert kept["version"] == 4
    assert kept["extractor_version"] == kept["metadata"]["extractor_version"] == "1.2"

    both = await call(
        client,
        "update_vendor_status",
        name="Acme",
        version=4,
        extractor_version="2.0",
        metadata={**META, "extractor_version": "2.0"},
    )
    assert both["extractor_version"] == both["metadata"]["extractor_version"] == "2.0"

    error = await fail(
        client,
        "update_vendor_status",
        name="Acme",
        version=5,
        extractor_version="3.0",
        metadata={**META, "extractor_version": "2.9"},
    )
    assert error["error"] == "ValidationError"
    assert error["details"]["field"] == "metadata.extractor_version"
    assert entity(await call(client, "query_vendor_status", name="Acme")) == entity(both)


BAD_UPDATES = [
    ({}, "ValidationError", "status"),
    ({"status": "retired"}, "ValidationError", "status"),
    ({"extractor_version": ""}, "ValidationError", "extractor_version"),
    ({"extractor_version": "v" * 51}, "ValidationError", "extractor_version"),
    ({"metadata": _without(META, "test_results")}, "ValidationError", "metadata.test_results"),
    (
        {"metadata": _with(META, 60, "test_results", "passing")},
        "ValidationError",
        "metadata.test_results",
    ),
    ({"metadata": _with(META, "x", "extra")}, "ValidationError", "metadata.extra"),
    ({"version": 0, "status": "broken"}, "ValidationError", "version"),
    ({"name": "Nobody", "status": "broken"}, "NotFoundError", None),
]


@pytest.mark.parametrize(("change", "name", "field"), BAD_UPDATES)
async def test_update_rejects_bad_input(
    client: Client[Any], change: dict[str, Any], name: str, field: str | None
) -> None:
    made = await vendor(client)
    arguments = {"name": "Acme", "version": 1} | change
    error = await fail(client, "update_vendor_status", **arguments)
    assert error["error"] == name
    if field is not None:
        assert error["details"]["field"] == field
    else:
        assert error["details"] == {"kind": "vendor", "name": "Nobody"}
    assert await listed(client) == [entity(made)]


async def test_an_update_that_changes_nothing_keeps_the_version(
    client: Client[Any], app: App
) -> None:
    made = await vendor(client)
    same = await call(
        client,
        "update_vendor_status",
        name="Acme",
        version=1,
        status="operational",
        extractor_version="1.0.0",
        metadata=META,
    )
    assert same["version"] == 1 and same["updated_at"] == made["updated_at"]
    assert [row["version"] for row in await changes(app, "Acme")] == [1]


@pytest.mark.parametrize(
    "change",
    [
        {"status": "broken"},
        {"extractor_version": "9.9"},
        {"metadata": _with(META, True, "format_support", "ocr")},
        {"status": "operational"},  # a no-op at version 2 is still stale at version 1
    ],
)
async def test_every_update_rejects_a_stale_version(
    client: Client[Any], change: dict[str, Any]
) -> None:
    await vendor(client)
    current = await call(
        client,
        "update_vendor_status",
        name="Acme",
        version=1,
        extractor_version="2.0",
        updated_by="alice",
    )
    error = await fail(client, "update_vendor_status", name="acme", version=1, **change)
    assert error["error"] == "VersionConflictError"
    details = error["details"]
    assert (details["expected_version"], details["current_version"]) == (1, 2)
    assert details["last_updated_by"] == "alice"
    assert details["current"] == entity(current)
    assert await listed(client) == [details["current"]]


async def test_list_is_by_name_ignoring_case_with_counts(client: Client[Any]) -> None:
    empty = await call(client, "list_vendors")
    assert (empty["items"], empty["total_count"], empty["operational_count"]) == ([], 0, 0)
    for name in ("beta", "Alpha", "gamma", "ALPHA2"):
        await vendor(client, name)
    await call(client, "update_vendor_status", name="gamma", version=1, status="broken")
    every = await call(client, "list_vendors")
    assert [v["name"] for v in every["items"]] == ["Alpha", "ALPHA2", "beta", "gamma"]
    assert (every["total_count"], every["operational_count"]) == (4, 3)
    assert "data_source" not in every["items"][0]
    broken = await call(client, "list_vendors", status="broken")
    assert [v["name"] for v in broken["items"]] == ["gamma"]
    assert (broken["total_count"], broken["operational_count"]) == (1, 0)
    working = await call(client, "list_vendors", status="operational")
    assert (working["total_count"], working["operational_count"]) == (3, 3)
    error = await fail(client, "list_vendors", status="retired")
    assert error["details"]["field"] == "status"


async def test_history_finds_a_vendor_by_name_id_or_prefix(client: Client[Any], app: App) -> None:
    made = await vendor(client)
    for ref in ("acme", made["id"], made["id"][:8], made["id"][:8].upper()):
        assert [row["version"] for row in await changes(app, ref)] == [1]
    for ref, key in (("Nobody", "name"), ("00000000", "id"), (str(uuid.UUID(int=0)), "id")):
        with pytest.raises(NotFoundError) as missing:
            await changes(app, ref)
        assert missing.value.details["kind"] == "vendor" and key in missing.value.details


async def test_repeated_request_id_returns_the_first_result(client: Client[Any], app: App) -> None:
    made = await vendor(client, request_id="create-1")
    again = await vendor(client, request_id="create-1")
    assert again == made
    assert len(await listed(client)) == 1
    first = await call(
        client, "update_vendor_status", name="Acme", version=1, status="broken", request_id="u-1"
    )
    repeat = await call(
        client, "update_vendor_status", name="Acme", version=1, status="broken", request_id="u-1"
    )
    assert repeat == first and repeat["version"] == 2
    assert [row["version"] for row in await changes(app, "Acme")] == [2, 1]  # applied once


@pytest.mark.postgres
async def test_racing_creates_of_one_name_in_two_cases_make_one_vendor(
    pg_backend: Backend,
) -> None:
    async def create(name: str) -> Any:
        async with Client(create_server(pg_backend.settings())) as client:
            return await client.call_tool(
                "create_vendor",
                {"name": name, "extractor_version": "1", "metadata": META},
                raise_on_error=False,
            )

    results = await asyncio.gather(create("Racer"), create("RACER"))
    assert sorted(result.is_error for result in results) == [False, True]
    refused = next(result for result in results if result.is_error)
    assert json.loads(refused.content[0].text)["error"] == "ConflictError"  # type: ignore[union-attr]
    async with Client(create_server(pg_backend.settings())) as client:
        assert (await call(client, "list_vendors"))["total_count"] == 1


async def test_list_pages_through_every_vendor_by_name(client: Client[Any]) -> None:
    names = [f"Vendor{n:02d}" for n in range(7)] + ["alpha", "Zeta"]
    for name in names:
        await vendor(client, name)
    await call(client, "update_vendor_status", name="Vendor03", version=1, status="broken")
    seen: list[str] = []
    page = await call(client, "list_vendors", limit=4)
    while True:
        assert len(page["items"]) <= 4
        assert (page["total_count"], page["operational_count"]) == (9, 8)
        seen += [v["name"] for v in page["items"]]
        if page["next_cursor"] is None:
            break
        page = await call(client, "list_vendors", limit=4, cursor=page["next_cursor"])
    assert seen == sorted(names, key=str.casefold)
    default = await call(client, "list_vendors")
    assert len(default["items"]) == 9 and default["next_cursor"] is None
    broken = await call(client, "list_vendors", status="broken", limit=1)
    assert [v["name"] for v in broken["items"]] == ["Vendor03"] and broken["next_cursor"] is None


async def test_a_vendor_cursor_is_refused_for_other_filters_or_when_forged(
    client: Client[Any],
) -> None:
    for name in ("a1", "a2", "a3"):
        await vendor(client, name)
    first = await call(client, "list_vendors", limit=1)
    assert [v["name"] for v in first["items"]] == ["a1"]
    other = await fail(client, "list_vendors", status="broken", cursor=first["next_cursor"])
    assert other["details"]["field"] == "cursor"
    forged = await fail(client, "list_vendors", cursor="bm90IGEgY3Vyc29y")
    assert forged["details"]["field"] == "cursor"
    too_many = await fail(client, "list_vendors", limit=201)
    assert too_many["details"]["field"] == "limit"


async def test_the_default_vendor_page_is_bounded(client: Client[Any]) -> None:
    for n in range(45):
        await vendor(client, f"v{n:02d}")
    listed = await call(client, "list_vendors")
    assert len(listed["items"]) == 40 and listed["total_count"] == 45
    rest = await call(client, "list_vendors", cursor=listed["next_cursor"])
    assert [v["name"] for v in rest["items"]] == [f"v{n:02d}" for n in range(40, 45)]
    assert rest["next_cursor"] is None
