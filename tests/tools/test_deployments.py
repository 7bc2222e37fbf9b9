from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import git
import pytest
from fastmcp import Client
from sqlalchemy import func, insert, select

from worktrack.server import create_server
from worktrack.startup import close_app, open_app
from worktrack.tables import deployment_vendors, deployment_work_items, deployments, vendors

from conftest import Backend, Clock
from helpers import call, fail, task

COMMIT = "a" * 40
OTHER_COMMIT = "b" * 40
META = {
    "pr_number": 42,
    "pr_title": "Ship the parser",
    "test_summary": {"unit": 120, "integration": 8},
    "constitutional_compliance": True,
}


async def add_vendors(backend: Backend, **statuses: str) -> dict[str, str]:
    """Vendor rows by name (no vendor tools here): returns their ids by name."""
    ids = {name: str(uuid4()) for name in statuses}
    now = datetime.now(UTC)
    rows = [
        {
            "id": ids[name],
            "version": 1,
            "name": name,
            "name_key": name.casefold(),
            "status": status,
            "extractor_version": "1.0.0",
            "metadata": {},
            "created_at": now,
            "updated_at": now,
            "created_by": "fixture",
            "updated_by": "fixture",
        }
        for name, status in statuses.items()
    ]
    app = await open_app(backend.settings())
    try:
        await app.db.run(lambda conn: conn.execute(insert(vendors), rows), write=True)
    finally:
        await close_app(app)
    return ids


async def stored_rows(backend: Backend) -> list[int]:
    """How many rows the deployment tables hold, all three."""
    app = await open_app(backend.settings())

    async def count(conn: Any) -> list[int]:
        tables = (deployments, deployment_vendors, deployment_work_items)
        return [await conn.scalar(select(func.count()).select_from(t)) for t in tables]

    try:
        return await app.db.run(count)
    finally:
        await close_app(app)


@pytest.fixture
async def vendor_ids(backend: Backend) -> dict[str, str]:
    return await add_vendors(backend, Acme="operational", Globex="broken")


async def deploy(client: Client[Any], **arguments: Any) -> dict[str, Any]:
    arguments.setdefault("commit_hash", COMMIT)
    arguments.setdefault("metadata", META)
    return await call(client, "record_deployment", **arguments)


async def test_record_and_query_a_deployment(
    client: Client[Any], vendor_ids: dict[str, str]
) -> None:
    item = await task(client, "Parser")
    made = await deploy(
        client,
        deployed_at="2026-11-20T12:30:00+02:00",
        affected_vendor_ids=[vendor_ids["Globex"][:8], vendor_ids["Acme"]],
        related_work_item_ids=[item["id"][:10]],
        created_by="ci",
    )
    assert made["deployed_at"] == "2026-11-20T10:30:00+00:00"
    assert made["commit_hash"] == COMMIT and made["created_by"] == "ci"
    assert made["metadata"] == META | {"commit_hash": COMMIT}
    assert made["affected_vendors"] == [
        {"id": vendor_ids["Acme"], "name": "Acme", "status": "operational"},
        {"id": vendor_ids["Globex"], "name": "Globex", "status": "broken"},
    ]
    assert made["related_work_items"] == [
        {"id": item["id"], "item_type": "task", "title": "Parser", "status": "active"}
    ]
    assert made["data_source"] in ("sqlite", "postgresql") and made["warnings"] == []
    assert "version" not in made  # deployments are immutable

    found = await call(client, "query_deployment", id=made["id"][:8])
    assert {k: v for k, v in found.items() if k != "queued"} == {
        k: v for k, v in made.items() if k != "queued"
    }
    missing = await fail(client, "query_deployment", id=str(uuid4()))
    assert missing["error"] == "NotFoundError" and missing["details"]["kind"] == "deployment"


async def test_defaults_now_no_links_and_metadata_commit_filled_in(
    client: Client[Any], clock: Clock
) -> None:
    made = await deploy(client)
    assert made["deployed_at"] == made["created_at"]
    assert datetime.fromisoformat(made["deployed_at"]) <= clock.now
    assert made["affected_vendors"] == [] and made["related_work_items"] == []
    assert made["metadata"]["commit_hash"] == COMMIT
    same = await deploy(client, metadata=META | {"commit_hash": COMMIT})
    assert same["metadata"]["commit_hash"] == COMMIT


def _git_repository(path: Path) -> str:
    repo = git.Repo.init(path)
    try:
        (path / "README.md").write_text("hello\n")
        repo.index.add(["README.md"])
        someone = git.Actor("Tester", "tester@example.com")
        return str(repo.index.commit("first", author=someone, committer=someone).hexsha)
    finally:
        repo.close()


async def test_commit_defaults_to_the_repository_head(
    backend: Backend, clock: Clock, tmp_path: Path
) -> None:
    head = _git_repository(tmp_path / "checkout")
    server = create_server(backend.settings(repo=tmp_path / "checkout"), clock=clock)
    async with Client(server) as client:
        made = await call(client, "record_deployment", metadata=META)
        assert made["commit_hash"] == head and made["metadata"]["commit_hash"] == head
        # a commit named in the metadata is the caller's word: HEAD does not override it
        named = await call(client, "record_deployment", metadata=META | {"commit_hash": COMMIT})
        assert named["commit_hash"] == COMMIT
        mismatch = await fail(
            client,
            "record_deployment",
            commit_hash=head,
            metadata=META | {"commit_hash": OTHER_COMMIT},
        )
        assert mismatch["details"]["field"] == "metadata.commit_hash"


async def test_without_a_repository_a_commit_must_be_given(client: Client[Any]) -> None:
    error = await fail(client, "record_deployment", metadata=META)
    assert error["error"] == "ValidationError" and error["details"]["field"] == "commit_hash"
    # a commit named in the metadata is a commit given
    made = await call(client, "record_deployment", metadata=META | {"commit_hash": COMMIT})
    assert made["commit_hash"] == COMMIT


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"deployed_at": "2026-11-20T12:30:00"}, "deployed_at"),
        ({"deployed_at": "yesterday"}, "deployed_at"),
        ({"commit_hash": "A" * 40}, "commit_hash"),
        ({"commit_hash": "abc1234"}, "commit_hash"),
        ({"metadata": {k: v for k, v in META.items() if k != "pr_title"}}, "metadata.pr_title"),
        ({"metadata": META | {"reviewer": "bob"}}, "metadata.reviewer"),
        ({"metadata": META | {"pr_number": 0}}, "metadata.pr_number"),
        ({"metadata": META | {"pr_number": "42"}}, "metadata.pr_number"),
        ({"metadata": META | {"pr_title": " "}}, "metadata.pr_title"),
        ({"metadata": META | {"pr_title": "t" * 201}}, "metadata.pr_title"),
        ({"metadata": META | {"test_summary": {"unit": -1}}}, "metadata.test_summary.unit"),
        ({"metadata": META | {"test_summary": {"c" * 51: 1}}}, "metadata.test_summary"),
        (
            {"metadata": META | {"constitutional_compliance": "yes"}},
            "metadata.constitutional_compliance",
        ),
        ({"metadata": META | {"commit_hash": "xyz"}}, "metadata.commit_hash"),
        ({"metadata": META | {"commit_hash": OTHER_COMMIT}}, "metadata.commit_hash"),
        ({"affected_vendor_ids": ["not-an-id"]}, "affected_vendor_ids.0"),
        ({"request_id": ""}, "request_id"),
    ],
)
async def test_bad_arguments_are_rejected(
    client: Client[Any], backend: Backend, change: dict[str, Any], field: str
) -> None:
    error = await fail(
        client, "record_deployment", **({"commit_hash": COMMIT, "metadata": META} | change)
    )
    assert error["error"] == "ValidationError"
    assert error["details"]["field"].startswith(field)
    assert await stored_rows(backend) == [0, 0, 0]


@pytest.mark.parametrize(
    ("links", "error_name", "detail"),
    [
        ({"affected_vendor_ids": ["Acme", "ghost"]}, "NotFoundError", "vendor"),
        ({"affected_vendor_ids": ["Acme", "ghost-prefix"]}, "NotFoundError", "vendor"),
        ({"affected_vendor_ids": ["Acme", "Acme"]}, "ValidationError", "affected_vendor_ids"),
        (
            {"affected_vendor_ids": ["Acme", "Acme-prefix"]},
            "ValidationError",
            "affected_vendor_ids",
        ),
        ({"related_work_item_ids": ["item", "ghost"]}, "NotFoundError", "work_item"),
        ({"related_work_item_ids": ["item", "item"]}, "ValidationError", "related_work_item_ids"),
        (
            {"related_work_item_ids": ["item-prefix", "item"]},
            "ValidationError",
            "related_work_item_ids",
        ),
        (
            {"affected_vendor_ids": ["Acme"], "related_work_item_ids": ["ghost"]},
            "NotFoundError",
            "work_item",
        ),
    ],
)
async def test_unknown_or_repeated_links_store_nothing(
    client: Client[Any],
    backend: Backend,
    vendor_ids: dict[str, str],
    links: dict[str, list[str]],
    error_name: str,
    detail: str,
) -> None:
    item = await task(client, "t")
    refs = {
        "Acme": vendor_ids["Acme"],
        "Acme-prefix": vendor_ids["Acme"][:9].upper(),
        "item": item["id"],
        "item-prefix": item["id"][:8],
        "ghost": str(uuid4()),
        "ghost-prefix": "00000000",
    }
    arguments = {field: [refs[name] for name in names] for field, names in links.items()}
    error = await fail(client, "record_deployment", commit_hash=COMMIT, metadata=META, **arguments)
    assert error["error"] == error_name
    assert detail in (error["details"].get("kind"), error["details"].get("field"))
    assert await stored_rows(backend) == [0, 0, 0]
    assert (await call(client, "list_deployments"))["total_count"] == 0


async def test_pagination_walks_every_deployment_once_newest_first(
    client: Client[Any],
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = [start + timedelta(days=n) for n in (3, 1, 4, 1, 5, 9, 2, 6)]  # one tie
    for n, at in enumerate(times):
        await deploy(client, deployed_at=at.isoformat(), metadata=META | {"pr_number": n + 1})
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await call(
            client, "list_deployments", limit=3, **({"cursor": cursor} if cursor else {})
        )
        assert page["total_count"] == len(times) and len(page["items"]) <= 3
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len({d["id"] for d in seen}) == len(times) == len(seen)
    keys = [(d["deployed_at"], d["id"]) for d in seen]
    assert keys == sorted(keys, reverse=True)
    first = await call(client, "list_deployments", limit=1)
    assert first["items"][0]["metadata"]["pr_number"] == 6  # the latest, day 9


async def test_list_filters_by_time_vendor_and_work_item(
    client: Client[Any], vendor_ids: dict[str, str]
) -> None:
    item = await task(client, "Parser")
    other = await task(client, "Other")
    at = [datetime(2026, 3, day, tzinfo=UTC).isoformat() for day in (1, 2, 3)]
    first = await deploy(client, deployed_at=at[0], affected_vendor_ids=[vendor_ids["Acme"]])
    second = await deploy(
        client,
        deployed_at=at[1],
        affected_vendor_ids=[vendor_ids["Acme"], vendor_ids["Globex"]],
        related_work_item_ids=[item["id"]],
    )
    third = await deploy(client, deployed_at=at[2], related_work_item_ids=[item["id"]])

    async def ids(**filters: Any) -> list[str]:
        page = await call(client, "list_deployments", **filters)
        assert page["total_count"] == len(page["items"])
        return [d["id"] for d in page["items"]]

    assert await ids() == [third["id"], second["id"], first["id"]]
    assert await ids(since=at[1]) == [third["id"], second["id"]]  # since is inclusive
    assert await ids(until=at[1]) == [first["id"]]  # until is exclusive
    assert await ids(since="2026-03-02T01:00:00+01:00", until=at[2]) == [second["id"]]
    assert await ids(vendor_name="ACME") == [second["id"], first["id"]]
    assert await ids(vendor_name="globex") == [second["id"]]
    assert await ids(work_item_id=item["id"][:8]) == [third["id"], second["id"]]
    assert await ids(work_item_id=other["id"]) == []
    assert await ids(vendor_name="acme", work_item_id=item["id"], since=at[0]) == [second["id"]]
    listed = (await call(client, "list_deployments", vendor_name="Globex"))["items"][0]
    assert [v["name"] for v in listed["affected_vendors"]] == ["Acme", "Globex"]
    assert [w["title"] for w in listed["related_work_items"]] == ["Parser"]

    unknown_vendor = await fail(client, "list_deployments", vendor_name="Initech")
    assert unknown_vendor["error"] == "NotFoundError"
    assert unknown_vendor["details"] == {"kind": "vendor", "name": "Initech"}
    unknown_item = await fail(client, "list_deployments", work_item_id=str(uuid4()))
    assert unknown_item["details"]["kind"] == "work_item"
    naive = await fail(client, "list_deployments", since="2026-03-01T00:00:00")
    assert naive["details"]["field"] == "since"


async def test_bad_cursors_and_limits_are_rejected(client: Client[Any]) -> None:
    for _ in range(3):
        await deploy(client)
    page = await call(client, "list_deployments", limit=1)
    other_filter = await fail(
        client,
        "list_deployments",
        limit=1,
        since="2020-01-01T00:00:00+00:00",
        cursor=page["next_cursor"],
    )
    assert other_filter["details"]["field"] == "cursor"
    garbage = await fail(client, "list_deployments", cursor="not-a-cursor")
    assert garbage["details"]["field"] == "cursor"
    for limit in (0, 201):
        out_of_range = await fail(client, "list_deployments", limit=limit)
        assert out_of_range["details"]["field"] == "limit"


async def test_repeated_request_id_records_once(client: Client[Any]) -> None:
    first = await deploy(client, request_id="deploy-1")
    again = await deploy(client, request_id="deploy-1")
    assert again == first
    assert (await call(client, "list_deployments"))["total_count"] == 1
    reused = await fail(
        client,
        "record_deployment",
        commit_hash=OTHER_COMMIT,
        metadata=META,
        request_id="deploy-1",
    )
    assert reused["details"]["field"] == "request_id"
