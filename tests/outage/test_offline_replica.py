"""Offline means offline (matrix rows R1–R4, on a cluster the tests cut themselves):

- R1: items another process wrote and this server never read are listed completely from
  the replica, every one can be changed offline, and each change is replayed exactly once;
- R2: two servers sharing one WORKTRACK_HOME across an outage: a call made after the
  primary is back never overtakes a write the other server queued;
- R3: a status file that cannot be written never turns a durably queued write into a
  failure, a retry duplicates nothing, and the next sync brings the file up to date;
- R4: a damaged or missing status file at HEAD: the answer comes from the newest commit of
  the last 100 in which it parses, and the warning names that commit and its date.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import git
import pytest
from fastmcp import Client

from worktrack.report import files
from worktrack.server import create_server
from worktrack.services.sync import sync_now
from worktrack.startup import close_app, open_app
from worktrack.store import queue as queue_store

from conftest import Outage
from helpers import call, fail, project, task

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WORKTRACK = str(Path(sys.executable).with_name("worktrack"))

WRITER = """
import asyncio, json, sys
from worktrack.services import work_items
from worktrack.settings import Settings
from worktrack.startup import close_app, open_app

async def main():
    app = (await open_app(Settings())).acting_as("other process")
    try:
        root = await work_items.create_work_item(
            app, item_type="project", title="written elsewhere", description="d"
        )
        ids = [
            (await work_items.create_work_item(
                app, item_type="task", title=f"elsewhere {n}", parent_id=root.id
            )).id
            for n in range(int(sys.argv[1]))
        ]
    finally:
        await close_app(app)
    print(json.dumps({"root": root.id, "ids": ids}))

asyncio.run(main())
"""


def _env(outage: Outage, home: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "WORKTRACK_"))},
        "WORKTRACK_DATABASE_URL": outage.settings(direct=True).effective_database_url,
        "WORKTRACK_HOME": str(home),
        "WORKTRACK_REPO": str(outage.repo),
    }


async def _replica_copied(client: Client[Any]) -> dict[str, Any]:
    """Wait for the server's own first copy of the primary (it starts with the server)."""
    for _ in range(600):
        health = await call(client, "get_system_health")
        if health["cache"]["oldest_age_minutes"] is not None:
            return health
        await asyncio.sleep(0.1)
    raise AssertionError("the replica was never copied")


async def test_r1_items_never_read_here_are_listed_and_changed_offline_replayed_once(
    outage: Outage, tmp_path: Path
) -> None:
    n = 1000
    written = subprocess.run(
        [sys.executable, "-c", WRITER, str(n)],
        env=_env(outage, tmp_path / "writer-home"),
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    made = json.loads(written.stdout)
    # No status file to keep in step: this row is about the replica, not the file.
    elsewhere = tmp_path / "elsewhere" / ".project_status.md"
    async with Client(outage.server(status_file=elsewhere)) as client:
        health = await _replica_copied(client)
        assert health["cache"]["entries"] >= 2 * n  # the items and their history
        outage.proxy.set_mode("down")
        listed, cursor = [], None
        while True:
            page = await call(
                client,
                "list_work_items",
                parent_id=made["root"],
                limit=200,
                **({"cursor": cursor} if cursor else {}),
            )
            assert page["data_source"] == "sqlite_cache" and page["total_count"] == n
            listed += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(listed) == sorted(made["ids"])  # offline list complete: 1,000 of 1,000
        ready = await call(client, "ready_work", parent_id=made["root"], limit=50)
        assert ready["data_source"] == "sqlite_cache" and len(ready["items"]) == 50
        changed = 0
        for number, item_id in enumerate(made["ids"]):
            result = await client.call_tool(
                "update_work_item",
                {"id": item_id, "version": 1, "title": f"changed offline {number}"},
                raise_on_error=False,
            )
            changed += not result.is_error and result.structured_content["queued"] is True  # type: ignore[index]
        assert changed == n  # updatable offline: 100 %
        assert (await call(client, "get_system_health"))["queued_writes"] == n

    outage.proxy.set_mode("pass")
    started = time.monotonic()
    replayed = subprocess.run(
        [WORKTRACK, "sync", "--json"],
        env=_env(outage, outage.home),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    took = time.monotonic() - started
    report = json.loads(replayed.stdout)
    assert (report["applied"], report["conflicts"], report["remaining"]) == (n, 0, 0)
    stored = outage.sql(
        "SELECT count(*), count(DISTINCT title), min(version), max(version) FROM work_items "
        f"WHERE parent_id = '{made['root']}' AND title LIKE 'changed offline %'"
    )
    assert stored == f"{n}|{n}|2|2"  # each change applied once: duplicates 0, lost 0
    assert outage.sql("SELECT count(*) FROM sync_conflicts") == "0"
    print(
        f"\nR1: {n} items written by another process, never read here: offline total_count "
        f"{n}, listed {len(listed)}, changed offline {changed}/{n}; replayed {report['applied']} "
        f"by `worktrack sync` in {took:.1f} s (process start and replica refresh included), "
        "duplicates 0"
    )


async def test_r2_two_servers_sharing_a_home_never_overtake_each_others_queue(
    outage: Outage,
) -> None:
    trials = 50
    async with Client(outage.server()) as a, Client(outage.server()) as b:
        item = await project(a, "shared")
        version, overtakes = 1, 0
        for trial in range(trials):
            await outage.refresh()  # A's offline change is based on B's last one
            outage.proxy.set_mode("down")
            queued = await call(
                a, "update_work_item", id=item["id"], version=version, title=f"A offline {trial}"
            )
            assert queued["queued"] is True
            outage.proxy.set_mode("pass")
            # B never queued anything: only the shared queue can tell it A's write waits.
            seen = await call(b, "query_work_item", id=item["id"])
            overtakes += (seen["title"], seen["version"]) != (f"A offline {trial}", version + 1)
            written = await call(
                b,
                "update_work_item",
                id=item["id"],
                version=seen["version"],
                title=f"B online {trial}",
            )
            version = written["version"]
        conflicts = (await call(b, "list_sync_conflicts"))["items"]
        assert (overtakes, len(conflicts)) == (0, 0)  # overtakes in 50 trials: 0
        history = await call(b, "get_history", entity="work_item", id=item["id"], limit=100)
        titles = [change["changes"]["title"][1] for change in reversed(history["changes"])]
        expected = [t for n in range(trials) for t in (f"A offline {n}", f"B online {n}")]
        assert titles[-2 * trials :] == expected  # in the order the calls were made

        # Negative control: with the queue check blinded (what a per-process flag saw), B
        # reads the stale row, and A's write later becomes a conflict: the count above
        # would have caught it.
        await outage.refresh()
        outage.proxy.set_mode("down")
        await call(a, "update_work_item", id=item["id"], version=version, title="A control")
        outage.proxy.set_mode("pass")
        blinded = pytest.MonkeyPatch()
        blinded.setattr(queue_store.Watch, "pending", _never_pending)
        try:
            stale = await call(b, "query_work_item", id=item["id"])
            await call(b, "update_work_item", id=item["id"], version=version, title="B control")
        finally:
            blinded.undo()
        assert stale["title"] == f"B online {trials - 1}"  # overtaken
        await call(a, "list_work_items")  # A replays now
        control = (await call(b, "list_sync_conflicts"))["items"]
        assert [c["attempted_change"]["title"] for c in control] == ["A control"]
    print(f"\nR2: two servers, one home, {trials} outages: overtakes 0, sync conflicts 0")


async def _never_pending(_watch: queue_store.Watch) -> bool:
    return False


def _unwritable(outage: Outage, how: str) -> Path:
    """A status file path whose writes fail: its lock path is a folder, or its folder is
    a file."""
    repo = outage.repo
    if how == "lock is a folder":
        path = repo / ".project_status.md"
        files.lock_path(path.resolve(), outage.home.resolve()).mkdir(parents=True)
        return path
    (repo / "docs").write_text("a file where the folder should be\n")
    return repo / "docs" / ".project_status.md"


def _repair(outage: Outage, how: str) -> None:
    if how == "lock is a folder":
        path = outage.repo / ".project_status.md"
        files.lock_path(path.resolve(), outage.home.resolve()).rmdir()
    else:
        (outage.repo / "docs").unlink()


@pytest.mark.parametrize("how", ["lock is a folder", "folder is a file"])
async def test_r3_an_unwritable_status_file_never_fails_a_queued_write(
    outage: Outage, how: str
) -> None:
    writes = 20
    path = _unwritable(outage, how)
    async with Client(outage.server(status_file=path)) as client:
        root = await project(client, "Status file gone bad")
        await outage.refresh(status_file=path)
        outage.proxy.set_mode("down")
        failed, made = 0, {}
        for n in range(writes):
            arguments = {
                "item_type": "task",
                "title": f"queued {n}",
                "parent_id": root["id"],
                "request_id": f"r{n}",
            }
            result = await client.call_tool("create_work_item", arguments, raise_on_error=False)
            if result.is_error:
                failed += 1
                continue
            answer = result.structured_content
            assert answer is not None and answer["queued"] is True
            assert any("the status file was not updated" in w for w in answer["warnings"])
            made[n] = answer["id"]
            again = await call(client, "create_work_item", **arguments)  # a retry
            assert again["id"] == answer["id"]
        assert failed == 0  # writes reported failed: 0 of 20
        assert (await call(client, "get_system_health"))["queued_writes"] == writes

    outage.proxy.set_mode("pass")
    _repair(outage, how)
    opened = await open_app(outage.settings(direct=True, status_file=path), outage.clock)
    try:
        report = await sync_now(opened)
    finally:
        await close_app(opened)
    assert (len(report.applied), len(report.conflicts), report.remaining) == (writes, 0, 0)
    stored = outage.sql(f"SELECT count(*) FROM work_items WHERE parent_id = '{root['id']}'")
    assert stored == str(writes)  # duplicates on retry: 0
    shown = path.read_text(encoding="utf-8")  # `worktrack sync` brought the file up to date
    assert all(f"### queued {n} (task)" in shown for n in range(writes))
    print(f"\nR3 ({how}): {writes} queued writes, failed 0, retried {writes}, duplicates 0")


BROKEN_AT_HEAD = {
    "damaged": "# Project Status - not a time\n<<<<<<< HEAD\n### half a merge\n",
    "no heading": "\n",
    "removed": None,
}


def _commit(repo: git.Repo, path: Path, text: str | None, message: str) -> str:
    if text is None:
        repo.index.remove([str(path)], working_tree=True)
    else:
        path.write_text(text, encoding="utf-8")
        repo.index.add([str(path)])
    return repo.index.commit(message, author=git.Actor("t", "t@example.com")).hexsha


@pytest.mark.parametrize("broken", sorted(BROKEN_AT_HEAD))
async def test_r4_the_git_layer_walks_back_to_the_newest_commit_that_parses(
    outage: Outage, broken: str
) -> None:
    async with Client(outage.server()) as client:
        root = await project(client, "Committed once")
        item = await task(client, "Found in history", root)
        written = await call(client, "generate_status_report", write_file=True)
        path = Path(written["path"])
        with git.Repo.init(outage.repo) as repo:
            _commit(repo, path, path.read_text(encoding="utf-8"), "good status")
            for n in range(3):  # more commits on top, the last one breaking the file
                (outage.repo / f"other{n}.txt").write_text(str(n))
                repo.index.add([str(outage.repo / f"other{n}.txt")])
                good = repo.index.commit(f"other {n}", author=git.Actor("t", "t@example.com"))
            _commit(repo, path, BROKEN_AT_HEAD[broken], f"status {broken}")
        # The newest commit in which the file exists and parses: the one below HEAD.
        date = good.committed_datetime
        path.unlink(missing_ok=True)  # nothing on disk either
        outage.proxy.set_mode("down")
        outage.clock.advance(minutes=31)  # the replica is past its TTL
        found = await call(client, "query_work_item", id=item["id"])
        assert found["data_source"] == "git_history" and found["title"] == "Found in history"
        served = found["warnings"][-1]
        assert (
            f"committed in {good.hexsha[:7]} on {date.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in served
        )
        assert "the newest commit in which it parses" in served


async def test_r4_a_good_status_file_beyond_the_last_100_commits_is_not_used(
    outage: Outage,
) -> None:
    async with Client(outage.server()) as client:
        item = await project(client, "Too far back")
        written = await call(client, "generate_status_report", write_file=True)
        path = Path(written["path"])
        with git.Repo.init(outage.repo) as repo:
            _commit(repo, path, path.read_text(encoding="utf-8"), "good, but old")
            for n in range(100):
                _commit(repo, path, f"# Project Status - not a time {n}\n", f"broken {n}")
        path.unlink()
        outage.proxy.set_mode("down")
        outage.clock.advance(minutes=31)
        error = await fail(client, "query_work_item", id=item["id"])
        assert error["error"] == "UnavailableError"
        assert (
            "does not parse in any of the 100 versions" in error["details"]["layers"]["git_history"]
        )


async def test_own_writes_reach_the_replica_without_waiting_for_the_interval(
    outage: Outage,
) -> None:
    """A write to the primary asks for a refresh: this server's changes are in the replica
    within moments, not only after WORKTRACK_CACHE_SYNC_SECONDS."""
    async with Client(outage.server(cache_sync_seconds=3600)) as client:
        await _replica_copied(client)
        made = await project(client, "Written just before the outage")
        for _ in range(300):
            if _in_replica(outage.home, made["id"]):
                break
            await asyncio.sleep(0.1)
        outage.proxy.set_mode("down")
        found = await call(client, "query_work_item", id=made["id"])
        assert found["data_source"] == "sqlite_cache"


def _in_replica(home: Path, item_id: str) -> bool:
    with contextlib.closing(sqlite3.connect(home / "cache.db")) as conn:
        found = conn.execute("SELECT 1 FROM work_items WHERE id = ?", (item_id,)).fetchone()
    return found is not None


async def test_an_offline_change_newer_than_the_replica_is_unavailable_not_a_conflict(
    outage: Outage, tmp_path: Path
) -> None:
    """The caller saw version 2 on the primary; the replica, refreshed before that change,
    holds version 1: the change cannot be checked here, and saying "someone changed it
    since you read it" would be false."""
    other = outage.settings(direct=True, home=tmp_path / "b-home")
    async with Client(outage.server()) as a, Client(create_server(other, clock=outage.clock)) as b:
        item = await project(b, "changed elsewhere")
        await outage.refresh()
        await call(b, "update_work_item", id=item["id"], version=1, title="version 2")
        outage.proxy.set_mode("down")
        error = await fail(a, "update_work_item", id=item["id"], version=2, title="version 3")
        assert error["error"] == "UnavailableError"
        assert "holds version 1, older than the version 2 you sent" in error["message"]
        assert (await call(a, "get_system_health"))["queued_writes"] == 0
