"""The real server over stdio through an outage, as a client spawns it: it starts while
Postgres is down, serves and queues from the fallback, replays by itself when Postgres is
back, and writes nothing but JSON-RPC to stdout the whole time (matrix row M2)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from conftest import OUTAGE_DB, Outage
from helpers import assert_only_jsonrpc, base_env, spawn

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
WORKTRACK = str(Path(sys.executable).with_name("worktrack"))


def _env(outage: Outage, tmp_path: Path) -> dict[str, str]:
    return base_env(tmp_path) | {
        "WORKTRACK_DATABASE_URL": outage.cluster.url(OUTAGE_DB),
        "WORKTRACK_HOME": str(outage.home),
        "WORKTRACK_REPO": str(outage.repo),
        "WORKTRACK_RETRY_SECONDS": "0",
        "WORKTRACK_SYNC_INTERVAL_SECONDS": "1",
        "WORKTRACK_CONNECT_TIMEOUT_SECONDS": "1",
    }


async def _structured(client: Client[Any], tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments, raise_on_error=False)
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    assert isinstance(result.structured_content, dict)
    return result.structured_content


async def test_m2_a_server_started_during_an_outage_serves_queues_and_catches_up(
    outage: Outage, tmp_path: Path
) -> None:
    outage.cluster.stop("fast")
    copy = tmp_path / "stdout.jsonl"
    async with Client(spawn(tmp_path, _env(outage, tmp_path), copy)) as client:
        made = await _structured(
            client, "create_work_item", item_type="task", title="written while down"
        )
        assert made["queued"] is True and made["data_source"] == "sqlite_cache"
        read = await _structured(client, "query_work_item", id=made["id"])
        assert read["data_source"] == "sqlite_cache" and read["title"] == "written while down"
        listed = await client.call_tool("list_vendors", {}, raise_on_error=False)
        assert listed.is_error  # nothing cached, nothing in a status file: no layer can answer
        assert json.loads(listed.content[0].text)["error"] == "UnavailableError"  # type: ignore[union-attr]
        down = await _structured(client, "get_system_health")
        assert down["primary"]["healthy"] is False and down["queued_writes"] == 1
        assert down["serving_layer"] == "sqlite_cache"

        outage.cluster.start()
        for _ in range(100):  # the server looks again every second and replays by itself
            health = await _structured(client, "get_system_health")
            if health["queued_writes"] == 0:
                break
            await asyncio.sleep(0.2)
        assert health["primary"]["healthy"] is True and health["queued_writes"] == 0
        assert health["schema_revision"] is not None and health["sync_conflicts"] == 0
        back = await _structured(client, "query_work_item", id=made["id"])
        assert back["data_source"] == "postgresql" and back["id"] == made["id"]
    assert assert_only_jsonrpc(copy) >= 8
    assert outage.sql(f"SELECT title FROM work_items WHERE id = '{made['id']}'") == (
        "written while down"
    )


def _run(outage: Outage, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env |= {
        "WORKTRACK_DATABASE_URL": outage.cluster.url(OUTAGE_DB),
        "WORKTRACK_HOME": str(outage.home),
        "WORKTRACK_REPO": str(outage.repo),
        "WORKTRACK_CONNECT_TIMEOUT_SECONDS": "1",
    }
    return subprocess.run(
        [WORKTRACK, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_health_and_sync_commands_say_what_serves_and_what_is_queued(
    outage: Outage,
) -> None:
    healthy = _run(outage, "health")
    assert healthy.returncode == 0, healthy.stderr
    assert "primary:         postgresql, healthy" in healthy.stdout
    assert "queued writes:   0" in healthy.stdout
    outage.cluster.stop("fast")
    down = _run(outage, "health", "--json")
    assert down.returncode == 1
    report = json.loads(down.stdout)
    assert report["primary"]["healthy"] is False and report["sync_conflicts"] is None
    assert report["primary"]["error"]
    nothing = _run(outage, "sync")
    assert nothing.returncode == 0 and "applied 0" in nothing.stdout  # an empty queue is done
