"""generate_status_report, the worktrack:// resources, the plan_session prompt and the
``worktrack report`` command, as clients and people use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from mcp import MCPError
from sqlalchemy import insert

from worktrack.report.parse import parse
from worktrack.server import create_server
from worktrack.startup import close_app, open_app
from worktrack.tables import vendors

from conftest import Backend, Clock
from helpers import call, fail, project, task

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))


async def _vendor(backend: Backend, name: str, status: str = "operational") -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    row = {
        "id": f"30000000-0000-4000-8000-{len(name):012d}",
        "version": 1,
        "name": name,
        "name_key": name.casefold(),
        "status": status,
        "extractor_version": "2.0.1",
        "metadata": {
            "format_support": {"excel": True, "csv": False, "pdf": True, "ocr": False},
            "test_results": {"passing": 9, "total": 10, "skipped": 1},
            "extractor_version": "2.0.1",
            "manifest_compliant": True,
        },
        "created_at": at,
        "updated_at": at,
        "created_by": "tester",
        "updated_by": "tester",
    }
    app = await open_app(backend.settings())
    try:
        await app.db.run(lambda conn: conn.execute(insert(vendors), [row]), write=True)
    finally:
        await close_app(app)


async def test_report_without_writing(client: Client[Any], backend: Backend) -> None:
    root = await project(client, "Platform")
    await task(client, "Active **task**", root)
    await task(client, "Finished", root, status="completed")
    await _vendor(backend, "Acme")

    report = await call(client, "generate_status_report", detail="full")
    assert report["path"] is None and report["data_source"] == backend.name.replace(
        "postgres", "postgresql"
    )
    assert report["warnings"] == []
    assert report["counts"] == {
        "vendors": 1,
        "operational_vendors": 1,
        "active_work_items": 2,
        "deployments": 0,
        "enhancements": 0,
    }
    parsed = parse(report["markdown"])
    assert parsed.errors == []
    assert [item.title for item in parsed.work_items] == ["Platform", "Active **task**"]
    assert parsed.vendors[0].formats == {"excel": True, "csv": False, "pdf": True, "ocr": False}
    assert not backend.settings().status_path.exists()


async def test_report_written_to_the_status_file(client: Client[Any], backend: Backend) -> None:
    await project(client, "Platform")
    report = await call(
        client, "generate_status_report", write_file=True, request_id="r-1", detail="full"
    )
    path = backend.settings().status_path
    assert report["path"] == str(path)
    assert path.read_text(encoding="utf-8") == report["markdown"]
    assert list(path.parent.glob(".*.tmp")) == []


async def test_since_adds_the_changes_section(client: Client[Any], clock: Clock) -> None:
    root = await project(client, "Platform")
    since = clock.now.isoformat()
    clock.advance(minutes=5)
    await task(client, "New one", root)
    await call(client, "update_work_item", id=root["id"], version=1, status="blocked")

    parsed = parse(
        (await call(client, "generate_status_report", since=since, detail="full"))["markdown"]
    )
    assert parsed.errors == [] and parsed.changes_since == datetime.fromisoformat(since)
    assert [(change.kind, change.text.split(" - ", 1)[1]) for change in parsed.changes] == [
        ("created", "New one (task)"),
        ("blocked", "Platform (project)"),
    ]


@pytest.mark.parametrize(
    ("since", "constraint"),
    [("2026-11-22T10:00:00", "needs a UTC offset"), ("last tuesday", "an ISO-8601 timestamp")],
)
async def test_a_bad_since_is_a_validation_error(
    client: Client[Any], since: str, constraint: str
) -> None:
    error = await fail(client, "generate_status_report", since=since)
    assert error["error"] == "ValidationError"
    assert error["details"]["field"] == "since"
    assert error["details"]["constraint"].startswith(constraint)


async def test_the_tool_is_an_idempotent_write(client: Client[Any]) -> None:
    tool = next(t for t in await client.list_tools() if t.name == "generate_status_report")
    assert tool.annotations is not None
    assert tool.annotations.read_only_hint is not True
    assert tool.annotations.idempotent_hint is True
    assert tool.annotations.destructive_hint is False


async def test_status_resource(client: Client[Any]) -> None:
    await project(client, "Platform")
    [resource] = [r for r in await client.list_resources() if str(r.uri) == "worktrack://status"]
    assert resource.mime_type == "text/markdown"
    [content] = await client.read_resource("worktrack://status")
    assert content.mime_type == "text/markdown"
    parsed = parse(content.text)  # type: ignore[union-attr]
    assert parsed.errors == [] and [i.title for i in parsed.work_items] == ["Platform"]


async def test_work_item_resource(client: Client[Any]) -> None:
    root = await project(client, "Platform")
    child = await task(client, "Child\u202e", root)
    [template] = await client.list_resource_templates()
    assert template.uri_template == "worktrack://work-items/{id}"
    assert template.mime_type == "application/json"

    [content] = await client.read_resource(f"worktrack://work-items/{root['id'][:8]}")
    assert content.mime_type == "application/json"
    item = json.loads(content.text)  # type: ignore[union-attr]
    assert item == await call(client, "query_work_item", id=root["id"])
    assert item["children"][0]["title"] == "Child\\u202e"  # shown, as tools show it
    assert item["children"][0]["id"] == child["id"]


@pytest.mark.parametrize(
    ("ref", "name"),
    [("deadbeef-0000-4000-8000-000000000000", "NotFoundError"), ("not-an-id", "ValidationError")],
)
async def test_work_item_resource_errors_carry_the_contract_json(
    client: Client[Any], ref: str, name: str
) -> None:
    with pytest.raises(MCPError) as raised:
        await client.read_resource(f"worktrack://work-items/{ref}")
    error = json.loads(str(raised.value))
    assert error["error"] == name and set(error) == {"error", "message", "details"}


async def test_plan_session_prompt(client: Client[Any]) -> None:
    [prompt] = await client.list_prompts()
    assert prompt.name == "plan_session"
    assert [(a.name, a.required) for a in prompt.arguments or []] == [("goal", True)]
    result = await client.get_prompt("plan_session", {"goal": "Import invoices\u202e from PDFs"})
    text = result.messages[0].content.text  # type: ignore[union-attr]
    assert "Import invoices\\u202e from PDFs" in text  # hidden characters made visible
    for step in (
        'item_type="project"',
        "description=",
        'item_type="session"',
        "default_token_budget",
        'item_type="task"',
        "acceptance_criteria=",
        "labels=",
        "metadata_patch",
        '"in_progress"',
        "add_dependency",
        "ready_work",
        "claim_work_item",
    ):
        assert step in text, step


@pytest.mark.parametrize("goal", ["", "   ", "x" * 2001])
async def test_plan_session_rejects_a_bad_goal(client: Client[Any], goal: str) -> None:
    with pytest.raises(MCPError) as raised:
        await client.get_prompt("plan_session", {"goal": goal})
    assert json.loads(str(raised.value))["details"]["field"] == "goal"


async def test_read_only_clients_read_the_report_as_a_resource(backend: Backend) -> None:
    async with Client(create_server(backend.settings(read_only=True))) as client:
        names = {tool.name for tool in await client.list_tools()}
        assert "generate_status_report" not in names
        [content] = await client.read_resource("worktrack://status")
        assert content.text.startswith("# Project Status - ")  # type: ignore[union-attr]
        with pytest.raises(ToolError):
            await client.call_tool("generate_status_report", {})


def _run(backend: Backend, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(backend.home),
        "WORKTRACK_HOME": str(backend.home),
        "WORKTRACK_DATABASE_URL": backend.url,
        "WORKTRACK_REPO": str(backend.repo),
    }
    return subprocess.run(
        [WORKTRACK, "report", *args],
        env=env,
        cwd=backend.repo,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


async def test_report_command(client: Client[Any], backend: Backend) -> None:
    await project(client, "Platform <!-- x -->")
    printed = _run(backend)
    assert printed.returncode == 0, printed.stderr
    parsed = parse(printed.stdout)
    assert parsed.errors == [] and parsed.work_items[0].title == "Platform <!-- x -->"

    target = backend.repo / "out" / "status.md"  # --output is confined to the repository
    written = _run(backend, "--output", str(target), "--since", "2020-01-01T00:00:00+00:00")
    assert written.returncode == 0, written.stderr
    assert written.stdout == "" and written.stderr.strip() == f"wrote {target}"
    assert "## Changes Since 2020-01-01T00:00:00+00:00" in target.read_text(encoding="utf-8")

    bad = _run(backend, "--since", "yesterday")
    assert bad.returncode == 2 and "since" in bad.stderr and bad.stdout == ""
