"""Notes during an outage (contract §5), on a cluster the tests cut themselves: a note added
while Postgres is unreachable is queued, listed offline from the replica with the notes the
primary had, and replayed exactly once, keeping its id and the time it was written."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastmcp import Client

from worktrack.server import create_server

from conftest import Outage
from helpers import call, task

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def test_a_note_added_offline_is_listed_offline_and_replayed_once(
    outage: Outage, tmp_path: Path
) -> None:
    other = outage.settings(direct=True, home=tmp_path / "b-home")
    async with Client(outage.server()) as a, Client(create_server(other, clock=outage.clock)) as b:
        item = await task(a, "hand-off")
        online = await call(a, "add_note", work_item_id=item["id"], text="before the outage")
        await outage.refresh()
        outage.proxy.set_mode("down")

        offline = await call(
            a, "add_note", work_item_id=item["id"][:8], text="written offline", request_id="r-1"
        )
        assert offline["queued"] is True and offline["data_source"] == "sqlite_cache"
        assert offline["work_item_id"] == item["id"] and offline["warnings"]
        retried = await call(
            a, "add_note", work_item_id=item["id"][:8], text="written offline", request_id="r-1"
        )
        assert retried["id"] == offline["id"]  # a retry queues nothing more
        assert (await call(a, "get_system_health"))["queued_writes"] == 1

        listed = await call(a, "list_notes", work_item_id=item["id"])
        assert listed["data_source"] == "sqlite_cache" and listed["warnings"]
        assert [n["id"] for n in listed["items"]] == [offline["id"], online["id"]]
        detail = await call(a, "query_work_item", id=item["id"])
        assert detail["data_source"] == "sqlite_cache" and detail["notes_count"] == 2
        assert [n["text"] for n in detail["notes"]] == ["written offline", "before the outage"]

        # Meanwhile another machine, still connected, adds its own note on the primary.
        elsewhere = await call(b, "add_note", work_item_id=item["id"], text="from elsewhere")
        assert elsewhere["data_source"] == "postgresql"

        outage.proxy.set_mode("pass")
        await call(a, "list_work_items")  # the replay runs before this call
        await call(a, "list_work_items")  # and never again
        stored = outage.sql(
            "SELECT ordinal, id, created_at = "
            f"'{offline['created_at']}'::timestamptz FROM work_item_notes "
            f"WHERE work_item_id = '{item['id']}' ORDER BY ordinal"
        ).split()
        # Numbered on the primary in the order it received them: the replayed note last.
        assert stored == [
            f"1|{online['id']}|f",
            f"2|{elsewhere['id']}|f",
            f"3|{offline['id']}|t",
        ]
        assert outage.sql("SELECT count(*) FROM sync_conflicts") == "0"
        assert outage.sql(f"SELECT version FROM work_items WHERE id = '{item['id']}'") == "1"
        after = await call(b, "list_notes", work_item_id=item["id"])
        assert [n["id"] for n in after["items"]] == [offline["id"], elsewhere["id"], online["id"]]
        assert after["data_source"] == "postgresql"
