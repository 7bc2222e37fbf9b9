"""Lost updates: many writers race on one item; every acknowledged update must survive."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from worktrack.server import create_server

from conftest import Backend
from helpers import call
from workers import append_tokens, append_tokens_in_process


async def _research_item(backend: Backend) -> dict[str, Any]:
    async with Client(create_server(backend.settings())) as client:
        return await call(
            client,
            "create_work_item",
            item_type="research",
            title="raced",
            metadata={"references": []},
        )


async def _final(backend: Backend, item_id: str) -> dict[str, Any]:
    async with Client(create_server(backend.settings())) as client:
        return await call(client, "query_work_item", id=item_id)


def _check(final: dict[str, Any], runs: list[dict[str, Any]], expected: int) -> None:
    tokens = [token for run in runs for token in run["tokens"]]
    assert len(tokens) == expected
    assert final["version"] - 1 == len(tokens)  # one version per acknowledged update
    assert sorted(final["metadata"]["references"]) == sorted(tokens)  # lost = 0


@pytest.mark.postgres
async def test_eight_clients_racing_on_postgres_lose_nothing(pg_backend: Backend) -> None:
    item = await _research_item(pg_backend)
    runs = await asyncio.gather(
        *(append_tokens(pg_backend.settings(), item["id"], n, 50) for n in range(8))
    )
    _check(await _final(pg_backend, item["id"]), runs, 400)  # C1: 8 clients × 50 updates
    assert sum(run["conflicts"] for run in runs) > 0  # the race really happened


async def test_four_processes_racing_on_one_sqlite_file_lose_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    backend = Backend("sqlite", f"sqlite+aiosqlite:///{home}/worktrack.db", home, tmp_path)
    item = await _research_item(backend)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=context) as pool:
        futures = [
            asyncio.wrap_future(
                pool.submit(
                    append_tokens_in_process,
                    backend.url,
                    str(home),
                    str(tmp_path),
                    item["id"],
                    n,
                    25,
                )
            )
            for n in range(4)
        ]
        runs = await asyncio.gather(*futures)
    _check(await _final(backend, item["id"]), runs, 100)
