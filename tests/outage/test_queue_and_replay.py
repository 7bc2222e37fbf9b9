"""Writes while Postgres is down are queued durably and replayed in order, exactly once, and
a queued change based on a version that moved on becomes a sync conflict: matrix rows O1,
O2, O3 and O6, on a cluster the tests stop themselves."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from filelock import FileLock

from worktrack.fallback import replay
from worktrack.server import create_server
from worktrack.services import sync, work_items
from worktrack.startup import close_app, open_app

from conftest import Outage
from helpers import call, fail, project, task

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WORKTRACK = str(Path(sys.executable).with_name("worktrack"))


def _env(outage: Outage) -> dict[str, str]:
    settings = outage.settings(direct=True)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")},
        "WORKTRACK_DATABASE_URL": settings.effective_database_url,
        "WORKTRACK_HOME": str(outage.home),
        "WORKTRACK_REPO": str(outage.repo),
    }


async def _client_writes(client: Client[Any], n: int, root: str, own: dict[str, Any]) -> list[str]:
    """25 writes: 13 tasks created, 12 updates of the client's own task (all queued)."""
    created = []
    version = own["version"]
    for i in range(25):
        if i % 2 == 0:
            made = await call(
                client, "create_work_item", item_type="task", title=f"c{n}-{i}", parent_id=root
            )
            assert made["queued"] is True and made["data_source"] == "sqlite_cache"
            created.append(made["id"])
        else:
            changed = await call(
                client, "update_work_item", id=own["id"], version=version, title=f"own{n}-{i}"
            )
            assert changed["queued"] is True and changed["version"] == version + 1
            version = changed["version"]
    return created


async def test_o1_a_hundred_writes_during_an_outage_replay_exactly_once(outage: Outage) -> None:
    servers = [outage.server(direct=True) for _ in range(4)]  # four clients, one machine
    clients = [Client(server) for server in servers]
    async with clients[0] as first, clients[1], clients[2], clients[3]:
        root = await project(first, "Offline project")
        owns = [await task(c, f"own{n}", root) for n, c in enumerate(clients)]
        await outage.refresh()
        outage.cluster.stop("fast")
        started = time.monotonic()
        first_answer = await call(first, "query_work_item", id=root["id"])
        detected = time.monotonic() - started
        assert first_answer["data_source"] == "sqlite_cache"
        runs = await asyncio.gather(
            *(_client_writes(c, n, root["id"], owns[n]) for n, c in enumerate(clients))
        )
        created = [item for run in runs for item in run]
        # Every local client sees every client's queued writes.
        seen = await call(first, "list_work_items", parent_id=root["id"], limit=200)
        assert seen["data_source"] == "sqlite_cache"
        assert {i["id"] for i in seen["items"]} >= set(created)
        health = await call(first, "get_system_health")
        assert health["queued_writes"] == 100 and health["primary"]["healthy"] is False
        status = (outage.repo / ".project_status.md").read_text(encoding="utf-8")
        assert all(f"own{n}-23" in status for n in range(4))  # shown before replay

    outage.cluster.start()
    started = time.monotonic()
    done = subprocess.run(
        [WORKTRACK, "sync"], env=_env(outage), capture_output=True, text=True, timeout=120
    )
    replayed_in = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert "applied 100" in done.stdout and "conflicts 0" in done.stdout, done.stdout

    titles = outage.sql(f"SELECT title FROM work_items WHERE parent_id = '{root['id']}'").split()
    made_titles = [t for t in titles if t.startswith("c")]
    assert len(made_titles) == len(set(made_titles)) == 52  # duplicates 0, lost 0
    ids = set(outage.sql(f"SELECT id FROM work_items WHERE parent_id = '{root['id']}'").split())
    assert set(created) <= ids  # creates queued offline keep their ids
    versions = outage.sql(
        "SELECT title, version FROM work_items WHERE title LIKE 'own%' ORDER BY title"
    ).split()
    assert versions == [f"own{n}-23|13" for n in range(4)]  # 12 updates each, in order
    assert outage.sql("SELECT count(*) FROM sync_conflicts") == "0"
    assert (
        outage.sql("SELECT count(*), count(DISTINCT op_id) FROM applied_ops") == "105|105"
    )  # 1 + 4 online, 100 replayed
    print(
        f"\nO1: outage detected in {detected * 1000:.0f} ms; 100 queued writes replayed by "
        f"`worktrack sync` in {replayed_in:.2f} s (process start included); "
        "duplicates 0, lost 0"
    )


async def test_o2_a_conflicting_replay_is_reported_never_last_writer_wins(
    outage: Outage, tmp_path: Path
) -> None:
    other = outage.settings(direct=True, home=tmp_path / "b-home")
    async with Client(outage.server()) as a, Client(create_server(other, clock=outage.clock)) as b:
        root = await project(b, "Shared")
        items = [await task(b, f"item{n}", root) for n in range(10)]
        for item in items:
            await call(a, "query_work_item", id=item["id"])  # A has read version 1
        await outage.refresh()
        outage.proxy.set_mode("down")  # A is cut off; B is not
        for item in items:
            queued = await call(a, "update_work_item", id=item["id"], version=1, title="by A")
            assert queued["queued"] is True
            await call(b, "update_work_item", id=item["id"], version=1, title="by B")
        outage.proxy.set_mode("pass")
        await call(a, "list_work_items")  # A's next call replays first
        listed = await call(b, "list_sync_conflicts")
        conflicts = {c["entity_id"]: c for c in listed["items"]}
        assert set(conflicts) == {item["id"] for item in items}  # detected / injected = 10/10
        for item in items:
            stored = await call(b, "query_work_item", id=item["id"])
            assert (stored["title"], stored["version"]) == ("by B", 2)  # silent overwrites: 0
            conflict = conflicts[item["id"]]
            assert conflict["base_version"] == 1 and conflict["current_version"] == 2
            assert conflict["attempted_change"]["title"] == "by A"  # both sides are kept
            assert conflict["current"]["title"] == "by B"
            assert conflict["reason"]["error"] == "VersionConflictError"
        # Settling them: discard keeps B's value, reapply puts A's on top of it (the negative
        # control: what the check above would have caught had replay overwritten).
        first, second = items[0]["id"], items[1]["id"]
        dropped = await call(
            b, "resolve_sync_conflict", id=conflicts[first]["id"], resolution="discard"
        )
        assert dropped["resolved"] is True
        again = await fail(
            b, "resolve_sync_conflict", id=conflicts[first]["id"], resolution="discard"
        )
        assert again["error"] == "ConflictError"
        reapplied = await call(
            b, "resolve_sync_conflict", id=conflicts[second]["id"], resolution="reapply"
        )
        assert reapplied["result"]["title"] == "by A" and reapplied["result"]["version"] == 3
        assert (await call(b, "query_work_item", id=first))["title"] == "by B"
        assert (await call(b, "query_work_item", id=second))["title"] == "by A"
        assert len((await call(b, "list_sync_conflicts"))["items"]) == 8


async def test_o6_an_offline_chain_is_applied_in_order_or_reported_whole(
    outage: Outage, tmp_path: Path
) -> None:
    other = outage.settings(direct=True, home=tmp_path / "b-home")
    async with Client(outage.server()) as a, Client(create_server(other, clock=outage.clock)) as b:
        clean, raced = await project(a, "chain ok"), await project(a, "chain raced")
        await outage.refresh()
        outage.proxy.set_mode("down")
        for item in (clean, raced):
            for n in range(3):  # v1 -> v2 -> v3 -> v4, offline
                await call(a, "update_work_item", id=item["id"], version=n + 1, title=f"a{n}")
        await call(b, "update_work_item", id=raced["id"], version=1, title="foreign")
        outage.proxy.set_mode("pass")
        await call(a, "list_work_items")
        ok = await call(b, "query_work_item", id=clean["id"])
        assert (ok["title"], ok["version"]) == ("a2", 4)
        history = await call(b, "get_history", entity="work_item", id=clean["id"])
        titles = [c["changes"]["title"][1] for c in reversed(history["changes"][:3])]
        assert titles == ["a0", "a1", "a2"]  # order violations: 0
        kept = await call(b, "query_work_item", id=raced["id"])
        assert (kept["title"], kept["version"]) == ("foreign", 2)  # v3 never applied over it
        conflicts = (await call(b, "list_sync_conflicts"))["items"]
        assert [c["attempted_change"]["title"] for c in conflicts] == ["a0", "a1", "a2"]
        assert [c["reason"]["error"] for c in conflicts] == [
            "VersionConflictError",
            "ChainedConflict",
            "ChainedConflict",
        ]
        # The chain is settled: a later offline change to the item is judged on its own.
        outage.proxy.set_mode("down")
        await call(a, "query_work_item", id=raced["id"])
        outage.proxy.set_mode("pass")
        fresh = await call(a, "query_work_item", id=raced["id"])
        await outage.refresh()
        outage.proxy.set_mode("down")
        await call(a, "update_work_item", id=raced["id"], version=fresh["version"], title="later")
        outage.proxy.set_mode("pass")
        assert (await call(a, "query_work_item", id=raced["id"]))["title"] == "later"


class _Crash(BaseException):
    """The replayer dying between the primary's COMMIT and the local acknowledgement."""


async def test_o3_a_crash_after_commit_never_applies_a_write_twice(
    outage: Outage, monkeypatch: pytest.MonkeyPatch
) -> None:
    trials, rng = 100, random.Random(20261202)
    app = await open_app(outage.settings(), outage.clock)
    try:
        root = await work_items.create_work_item(
            app, item_type="project", title="crash", description="d"
        )
        await sync.sync_now(app)  # the replica holds it: it can be changed offline
        version = root.version
        for trial in range(trials):
            ops = rng.randint(1, 3)
            outage.proxy.set_mode("down")  # writes queue
            for n in range(ops):
                queued = await work_items.update_work_item(
                    app, id=root.id, version=version, title=f"t{trial}-{n}"
                )
                assert queued.queued is True
                version += 1
            outage.proxy.set_mode("pass")
            crash_at = rng.randint(1, ops)
            calls = 0

            def crash(_call: object, _outcome: str, at: int = crash_at) -> None:
                nonlocal calls
                calls += 1
                if calls == at:
                    raise _Crash

            monkeypatch.setattr(replay, "after_primary_commit", crash)
            with pytest.raises(_Crash):
                await sync.sync_now(app)
            monkeypatch.setattr(replay, "after_primary_commit", lambda _call, _outcome: None)
            report = await sync.sync_now(app)  # a fresh start finds the queue as it was left
            assert len(report.already_applied) == 1 and report.remaining == 0
        stored = outage.sql(f"SELECT version FROM work_items WHERE id = '{root.id}'")
        assert int(stored) == version  # duplicates / trials = 0 / 100
        assert outage.sql("SELECT count(*) FROM sync_conflicts") == "0"

        # Negative control: without the op id recorded with its effect, the crashed call is
        # applied again (here its id collides: a spurious conflict instead of "already
        # applied"). The count above would have caught a write applied twice.
        outage.proxy.set_mode("down")
        await work_items.create_work_item(app, item_type="task", title="once", parent_id=root.id)
        outage.proxy.set_mode("pass")
        monkeypatch.setattr(replay, "after_primary_commit", _crash_always)
        with pytest.raises(_Crash):
            await sync.sync_now(app)
        outage.sql("DELETE FROM applied_ops")  # as if ids were never recorded
        monkeypatch.setattr(replay, "after_primary_commit", lambda _call, _outcome: None)
        control = await sync.sync_now(app)
        assert len(control.conflicts) == 1 and control.already_applied == []
    finally:
        await close_app(app)


def _crash_always(_call: object, _outcome: str) -> None:
    raise _Crash


CRASHING_SYNC = """
import asyncio, os, sys
from worktrack.fallback import replay
from worktrack.services import sync
from worktrack.settings import Settings
from worktrack.startup import close_app, open_app

def crash(call, outcome):
    if outcome == "applied":
        os._exit(9)  # no cleanup, no flush: as a killed process

replay.after_primary_commit = crash

async def main():
    app = await open_app(Settings())
    await sync.sync_now(app)
    await close_app(app)

asyncio.run(main())
"""


async def test_o3_a_killed_replayer_process_leaves_nothing_applied_twice(outage: Outage) -> None:
    app = await open_app(outage.settings(), outage.clock)
    try:
        root = await work_items.create_work_item(
            app, item_type="project", title="killed", description="d"
        )
        await sync.sync_now(app)
        outage.proxy.set_mode("down")
        for n in range(3):
            await work_items.update_work_item(app, id=root.id, version=n + 1, title=f"k{n}")
    finally:
        await close_app(app)
    for killed in range(3):  # each run dies after the primary committed one more call
        done = subprocess.run(
            [sys.executable, "-c", CRASHING_SYNC], env=_env(outage), timeout=120, check=False
        )
        assert done.returncode == 9
        stored = outage.sql(f"SELECT version FROM work_items WHERE id = '{root.id}'")
        assert int(stored) == 2 + killed
    done = subprocess.run(
        [WORKTRACK, "sync", "--json"], env=_env(outage), capture_output=True, text=True, timeout=120
    )
    report = json.loads(done.stdout)
    assert report["applied"] == 0 and report["already_applied"] == 1 and report["remaining"] == 0
    assert outage.sql(f"SELECT version, title FROM work_items WHERE id = '{root.id}'") == "4|k2"


async def test_f1_postgres_killed_mid_transaction_leaves_no_partial_effect(
    outage: Outage,
) -> None:
    import asyncpg

    async with Client(outage.server(direct=True)) as client:
        old, new = await project(client, "old parent"), await project(client, "new parent")
        moved = await task(client, "moved", old)
        child = await task(client, "child", moved)
        await outage.refresh()
        holder = await asyncpg.connect(
            host="127.0.0.1", port=outage.cluster.port, user="postgres", database="worktrack"
        )
        await holder.execute("BEGIN")
        await holder.execute(f"SELECT 1 FROM work_items WHERE id = '{child['id']}' FOR UPDATE")
        # The move locks the item, then its subtree: it waits on the child, mid-transaction.
        move = asyncio.create_task(
            call(client, "update_work_item", id=moved["id"], version=1, parent_id=new["id"])
        )
        for _ in range(100):
            waiting = outage.sql(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            )
            if waiting == "1":
                break
            await asyncio.sleep(0.05)
        assert waiting == "1"
        outage.cluster.stop("immediate")
        result = await move
        assert result["queued"] is True  # not applied, not lost: queued
        holder.terminate()
        outage.cluster.start()
        assert outage.sql(
            f"SELECT version, parent_id FROM work_items WHERE id = '{moved['id']}'"
        ) == (f"1|{old['id']}")  # partial writes: 0
        after = await call(client, "query_work_item", id=moved["id"])  # replays first
        assert after["data_source"] == "postgresql" and after["parent_id"] == new["id"]
        below = await call(client, "query_work_item", id=child["id"])
        assert below["path"] == f"/{new['id']}/{moved['id']}/{child['id']}"
        assert (after["version"], below["version"]) == (2, 2)  # applied exactly once


async def test_a_call_does_not_wait_long_for_a_replay_running_elsewhere(outage: Outage) -> None:
    """Another process holding the replay lock makes a call wait at most a couple of seconds;
    then it is served locally, behind the queue, well inside the 10 s promise."""
    async with Client(outage.server()) as client:
        root = await project(client, "Busy")
        await outage.refresh()
        outage.proxy.set_mode("down")
        queued = await call(client, "update_work_item", id=root["id"], version=1, title="later")
        assert queued["queued"] is True
        outage.proxy.set_mode("pass")
        elsewhere = FileLock(outage.home / "replay.lock", thread_local=False)
        elsewhere.acquire()  # another process is replaying
        try:
            read = await asyncio.wait_for(call(client, "query_work_item", id=root["id"]), 10)
        finally:
            elsewhere.release()
        assert read["data_source"] == "sqlite_cache" and read["title"] == "later"
        assert any("not replayed yet" in warning for warning in read["warnings"])
        # Once the lock is free, the next call replays and reaches the primary.
        after = await call(client, "query_work_item", id=root["id"])
        assert (after["data_source"], after["title"], after["version"]) == (
            "postgresql",
            "later",
            2,
        )
