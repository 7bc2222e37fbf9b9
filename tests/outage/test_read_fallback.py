"""Reads while Postgres is unreachable fall through the layers in order (contract §5):
Postgres → local cache (younger than the TTL) → the status file as committed in git → the
status file on disk. Matrix row O7, with an injected clock for the TTL; F2 and F4."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import git
import pytest
from fastmcp import Client

from worktrack.server import create_server

from conftest import Outage
from helpers import call, fail, project, task

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CORRUPT = "# Project Status - not a time\n<<<<<<< HEAD\n### half a merge\n"


def _commit(repo: Path, path: Path) -> None:
    with git.Repo.init(repo) as opened:
        opened.index.add([str(path)])
        opened.index.commit("status", author=git.Actor("t", "t@example.com"))


async def _arrange(
    outage: Outage, client: Client[Any], *, in_git: bool, on_disk: str
) -> dict[str, Any]:
    """A project and a task, written through the primary and copied to the replica,
    reported to the status file, the file committed or not, then left, damaged or removed
    on disk."""
    root = await project(client, "Platform")
    item = await task(client, "Outage-proof task", root)
    await outage.refresh()
    written = await call(client, "generate_status_report", write_file=True)
    path = Path(written["path"])
    if in_git:
        _commit(outage.repo, path)
    if on_disk == "corrupt":
        path.write_text(CORRUPT, encoding="utf-8")
    elif on_disk == "absent":
        path.unlink()
    return item


def _expected(primary_up: bool, cache_age: int, in_git: bool, on_disk: str) -> str | None:
    if primary_up:
        return "postgresql"
    if cache_age < 30:
        return "sqlite_cache"
    if in_git:
        return "git_history"
    return "markdown_file" if on_disk == "present" else None


@pytest.mark.parametrize("on_disk", ["present", "corrupt", "absent"])
@pytest.mark.parametrize("in_git", [True, False], ids=["git", "no-git"])
@pytest.mark.parametrize("cache_age", [0, 29, 31], ids=lambda m: f"cache{m}min")
@pytest.mark.parametrize("primary_up", [True, False], ids=["pg-up", "pg-down"])
async def test_o7_each_read_is_answered_by_the_first_layer_that_can(
    outage: Outage, primary_up: bool, cache_age: int, in_git: bool, on_disk: str
) -> None:
    async with Client(outage.server()) as client:
        item = await _arrange(outage, client, in_git=in_git, on_disk=on_disk)
        if not primary_up:
            outage.proxy.set_mode("down")
        outage.clock.advance(minutes=cache_age)  # after the cut: no refresh makes it younger
        expected = _expected(primary_up, cache_age, in_git, on_disk)
        if expected is None:
            error = await fail(client, "query_work_item", id=item["id"])
            assert error["error"] == "UnavailableError"
            layers = error["details"]["layers"]
            assert set(layers) == {"postgresql", "sqlite_cache", "git_history", "markdown_file"}
            assert "past the 30-minute limit" in layers["sqlite_cache"]
            if on_disk == "corrupt":  # the damage is named line by line, not skipped
                assert "unreadable lines (line 1:" in layers["markdown_file"]
                assert "git conflict marker" in layers["markdown_file"]
            return
        found = await call(client, "query_work_item", id=item["id"])
        assert found["data_source"] == expected
        assert (found["id"], found["title"], found["version"]) == (item["id"], item["title"], 1)
        if expected == "postgresql":
            assert found["warnings"] == []
            return
        assert found["warnings"][0].startswith("postgresql is unavailable")
        age = f"({cache_age if expected == 'sqlite_cache' else 0} minutes old)"
        if expected == "sqlite_cache":
            assert found["warnings"][-1].endswith(age)  # the data's age, from the clock
            assert found["metadata"] == item["metadata"]
        else:  # the status file has the item and its place in the tree, not every field
            assert found["parent_id"] == item["parent_id"]
            assert found["ancestors"][0]["title"] == "Platform"


async def test_the_replica_holds_what_this_server_never_read(
    outage: Outage, tmp_path: Path
) -> None:
    """Items another client created are in the replica without being read here."""
    other = outage.settings(direct=True, home=tmp_path / "elsewhere")
    async with (
        Client(outage.server()) as client,
        Client(create_server(other, clock=outage.clock)) as writer,
    ):
        root = await project(writer, "Never read here")
        children = [await task(writer, f"t{n}", root) for n in range(3)]
        below = await task(writer, "below t2", children[2])
        await call(
            writer,
            "add_dependency",
            source_id=children[1]["id"],
            target_id=children[0]["id"],
            dependency_type="depends_on",
        )
        await call(
            writer,
            "add_dependency",
            source_id=children[0]["id"],
            target_id=children[2]["id"],
            dependency_type="blocks",
        )
        primary = {
            tool: await call(client, tool, parent_id=root["id"])
            for tool in ("ready_work", "blocked_work")
        }
        await outage.refresh()
        outage.proxy.set_mode("down")
        listed = await call(client, "list_work_items", parent_id=root["id"], detail="full")
        assert listed["data_source"] == "sqlite_cache"
        assert sorted(i["id"] for i in listed["items"]) == sorted(c["id"] for c in children)
        ready = await call(client, "ready_work", parent_id=root["id"])
        assert ready["data_source"] == "sqlite_cache"
        assert [i["id"] for i in ready["items"]] == [children[0]["id"]]
        for tool, answer in primary.items():  # the replica answers what the primary did
            offline = await call(client, tool, parent_id=root["id"])
            assert offline["items"] == answer["items"], tool
        assert {i["id"] for i in primary["blocked_work"]["items"]} == {
            children[1]["id"],
            children[2]["id"],
            below["id"],
        }
        found = await call(client, "query_work_item", id=root["id"])
        assert (found["title"], len(found["children"])) == ("Never read here", 3)
        missing = await fail(client, "query_work_item", id="00000000-0000-4000-8000-000000000000")
        assert missing["error"] == "UnavailableError"  # not in any layer: cannot tell


async def test_every_read_tool_falls_back(outage: Outage) -> None:
    async with Client(outage.server()) as client:
        root = await project(client, "Everything")
        vendor = await call(
            client,
            "create_vendor",
            name="acme",
            extractor_version="1.0",
            metadata={
                "format_support": {"excel": True, "csv": True, "pdf": False, "ocr": False},
                "test_results": {"passing": 3, "total": 4, "skipped": 1},
            },
        )
        shipped = await call(
            client,
            "record_deployment",
            commit_hash="a" * 40,
            metadata={
                "pr_number": 7,
                "pr_title": "Ship it",
                "test_summary": {"unit": 3},
                "constitutional_compliance": True,
            },
            affected_vendor_ids=[vendor["id"]],
        )
        planned = await call(client, "create_enhancement", title="Faster")
        reads: list[tuple[str, dict[str, Any]]] = [
            ("query_work_item", {"id": root["id"]}),
            ("list_work_items", {}),
            ("ready_work", {}),
            ("blocked_work", {}),
            ("get_history", {"entity": "work_item", "id": root["id"]}),
            ("query_vendor_status", {"name": "ACME"}),
            ("list_vendors", {}),
            ("query_deployment", {"id": shipped["id"]}),
            ("list_deployments", {}),
            ("list_enhancements", {}),
            ("generate_status_report", {}),
        ]
        before = {name: await call(client, name, **args) for name, args in reads}
        await call(client, "update_project_configuration", version=1, git_branch="main")
        await outage.refresh()
        outage.proxy.set_mode("down")
        for name, args in reads:
            during = await call(client, name, **args)
            assert during["data_source"] == "sqlite_cache", name
            assert _same(before[name], during), name
        config = await call(client, "get_project_configuration")
        assert (config["data_source"], config["git_branch"]) == ("sqlite_cache", "main")
        planned_again = await call(client, "list_enhancements")
        assert planned_again["items"][0]["id"] == planned["id"]


def _same(before: dict[str, Any], during: dict[str, Any]) -> bool:
    envelope = {"data_source", "warnings", "queued", "markdown"}
    return {k: v for k, v in before.items() if k not in envelope} == {
        k: v for k, v in during.items() if k not in envelope
    }


async def test_f2_a_restart_under_an_idle_pool_costs_the_next_call_nothing(
    outage: Outage,
) -> None:
    async with Client(outage.server(direct=True)) as client:
        root = await project(client, "Survives a restart")
        assert (await call(client, "query_work_item", id=root["id"]))["data_source"] == "postgresql"
        outage.cluster.stop("fast")
        outage.cluster.start()
        after = await call(client, "query_work_item", id=root["id"])
        assert after["data_source"] == "postgresql" and after["warnings"] == []


async def test_f4_a_blackholed_primary_is_given_up_on_within_the_timeouts(
    outage: Outage,
) -> None:
    """No FIN, no RST: the call is answered from the cache once the statement timeout
    (2 s here) or connect timeout (1 s) passes; it never hangs (contract: at most 10 s)."""
    async with Client(outage.server()) as client:
        root = await project(client, "Behind a dead link")
        await outage.refresh()
        outage.proxy.set_mode("blackhole")
        started = time.monotonic()
        found = await asyncio.wait_for(call(client, "query_work_item", id=root["id"]), 10)
        detected = time.monotonic() - started
        assert found["data_source"] == "sqlite_cache"
        print(f"\nF4 blackhole detected and answered from the cache in {detected:.2f} s")
        outage.proxy.set_mode("down")  # lets the server's shutdown close what it holds


async def test_a_report_from_a_fallback_layer_is_not_written_over_the_status_file(
    outage: Outage,
) -> None:
    async with Client(outage.server()) as client:
        await project(client, "Reported")
        written = await call(client, "generate_status_report", write_file=True)
        path = Path(written["path"])
        before = path.read_bytes()
        await outage.refresh()
        outage.proxy.set_mode("down")
        during = await call(client, "generate_status_report", write_file=True)
        assert during["data_source"] == "sqlite_cache" and during["path"] is None
        assert "was not written" in during["warnings"][-1]
        assert path.read_bytes() == before
