from __future__ import annotations

from typing import Any

from fastmcp import Client

from helpers import call, fail

VENDOR_META = {
    "format_support": {"excel": True, "csv": False, "pdf": True, "ocr": False},
    "test_results": {"passing": 4, "total": 5, "skipped": 1},
}


async def test_history_covers_vendors_configuration_and_enhancements(
    client: Client[Any],
) -> None:
    vendor = await call(
        client, "create_vendor", name="Acme", extractor_version="1.0", metadata=VENDOR_META
    )
    await call(client, "update_vendor_status", name="ACME", version=1, status="broken")
    by_name = await call(client, "get_history", entity="vendor", id="acme")
    by_prefix = await call(client, "get_history", entity="vendor", id=vendor["id"][:8])
    assert by_name == by_prefix
    assert [c["version"] for c in by_name["changes"]] == [2, 1]
    assert by_name["changes"][0]["changes"] == {"status": ["operational", "broken"]}

    await call(client, "update_project_configuration", version=1, default_token_budget=5000)
    config = await call(client, "get_history", entity="configuration", id="1")
    assert [c["version"] for c in config["changes"]] == [2, 1]
    assert config["changes"][0]["changes"] == {"default_token_budget": [200000, 5000]}

    idea = await call(client, "create_enhancement", title="Faster reports")
    await call(client, "update_enhancement", id=idea["id"], version=1, status="approved")
    ideas = await call(client, "get_history", entity="enhancement", id=idea["id"])
    assert ideas["changes"][0]["changes"] == {"status": ["planned", "approved"]}

    missing = await fail(client, "get_history", entity="vendor", id="nobody")
    assert missing["error"] == "NotFoundError" and missing["details"]["name"] == "nobody"
