"""Issue 11's new write paths while Postgres is down: a metadata_patch, labels and a session
created with default metadata are queued, read back from the local layer as they will be,
and replayed with the same result (the default budget the call took is kept)."""

from __future__ import annotations

import json

import pytest

from worktrack.services import configuration, sync, work_items
from worktrack.startup import close_app, open_app

from conftest import Outage

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def test_patches_labels_and_session_defaults_queue_and_replay(outage: Outage) -> None:
    app = (await open_app(outage.settings(), outage.clock)).acting_as("offline")
    try:
        await configuration.update_project_configuration(app, version=1, default_token_budget=7_000)
        item = await work_items.create_work_item(
            app, item_type="task", title="t", labels=["a"], metadata={"estimated_hours": 2}
        )
        await sync.sync_now(app)
        outage.proxy.set_mode("down")
        patched = await work_items.update_work_item(
            app,
            id=item.id,
            version=1,
            labels=["B", "a"],
            metadata_patch={"actual_hours": 3, "estimated_hours": None},
        )
        assert patched.queued is True and patched.version == 2
        assert (patched.labels, patched.metadata) == (["a", "b"], {"actual_hours": 3})
        session = await work_items.create_work_item(app, item_type="session", title="s")
        assert session.queued is True and session.metadata["token_budget"] == 7_000
        found = await work_items.list_work_items(app, label="b")
        assert found.data_source == "sqlite_cache" and [i.id for i in found.items] == [item.id]
        # Changed on the primary by someone else before the replay: the queued session must
        # keep the budget it took, not the one the primary holds when it replays.
        outage.sql("UPDATE configuration SET default_token_budget = 9000")
        outage.proxy.set_mode("pass")
        await sync.sync_now(app)
    finally:
        await close_app(app)
    report = outage.sql("SELECT count(*) FROM sync_conflicts")
    assert report == "0"
    stored = outage.sql(f"SELECT version, labels, metadata FROM work_items WHERE id = '{item.id}'")
    version, labels, metadata = stored.split("|")
    assert (version, json.loads(labels), json.loads(metadata)) == (
        "2",
        ["a", "b"],
        {"actual_hours": 3},
    )
    budget = outage.sql(
        f"SELECT metadata->>'token_budget' FROM work_items WHERE id = '{session.id}'"
    )
    assert budget == "7000"
