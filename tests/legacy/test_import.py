"""The legacy import on both databases: the shared fixture gives exactly expected.json, and
every failure leaves the database and the input files as they were."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import git
import pytest
from fastmcp import Client

from worktrack.errors import ValidationError
from worktrack.models.legacy import ImportResult
from worktrack.services import configuration
from worktrack.services.app import App
from worktrack.services.legacy_import import import_legacy
from worktrack.startup import close_app, open_app

from conftest import Backend
from helpers import call
from legacy_files import EXPECTED, STATUS_TEXT, copy_fixture, fingerprints, line_of, snapshot

FLAGS = ("excel", "csv", "pdf", "ocr")
PR_105 = "### 2025-10-06 20:30:00 UTC - PR #105"
PR_105_COMMIT = "- **Commit**: `e4fb440034d6608697a8d41bed440e50454f31af`"


async def _import(app: App, tmp_path: Path, **options: Any) -> ImportResult:
    status, prompts = copy_fixture(tmp_path)
    return await import_legacy(app, path=status, prompts_dir=prompts, **options)


def _all_match(result: ImportResult) -> bool:
    return all(check.match for _, check in result.reconciliation)


async def test_the_shared_fixture_imports_as_expected(
    app: App, client: Client[Any], tmp_path: Path
) -> None:
    status, prompts = copy_fixture(tmp_path)
    before = fingerprints(status.parent)
    result = await import_legacy(app, path=status, prompts_dir=prompts)

    assert result.success and result.errors == [] and not result.rollback_executed
    assert _all_match(result) and not result.dry_run
    counts = {name: check.source for name, check in result.reconciliation}
    assert counts == {
        "vendor_count": EXPECTED["vendors"],
        "deployment_count": EXPECTED["deployments"],
        "enhancement_count": EXPECTED["enhancements"],
        "session_prompt_count": EXPECTED["session_prompts"],
        "vendor_metadata": EXPECTED["vendors"],
        "work_item_count": EXPECTED["work_items"],
    }
    assert [skipped.file for skipped in result.skipped] == EXPECTED["skipped_prompts"]
    assert all(skipped.reason for skipped in result.skipped)
    kept = 12 + 10 + 6 + 4 + 4  # every entity of the status file and the valid prompts
    assert result.data_preservation_percentage == round(100 * kept / (kept + 2), 2)
    assert fingerprints(status.parent) == before

    await _vendors_as_expected(client, result)
    await _deployments_as_expected(client)
    await _enhancements_as_expected(client)
    await _work_items_as_expected(client)


def _defaulted(result: ImportResult) -> set[tuple[str, str]]:
    return {
        (default.field, name)
        for default in result.defaults_applied
        if default.entity == "vendor"
        for name in default.applied_to
    }


async def _vendors_as_expected(client: Client[Any], result: ImportResult) -> None:
    listed = await call(client, "list_vendors")
    assert listed["total_count"] == EXPECTED["vendors"]
    assert listed["operational_count"] == EXPECTED["operational"]
    defaulted = _defaulted(result)

    def record(vendor: dict[str, Any]) -> dict[str, Any]:
        name, meta = vendor["name"], vendor["metadata"]
        counts = meta["test_results"]
        skipped = ("metadata.test_results.skipped", name) in defaulted
        versionless = ("extractor_version", name) in defaulted
        return {
            "name": name,
            "status": vendor["status"],
            "passing": counts["passing"],
            "total": counts["total"],
            "skipped": None if skipped else counts["skipped"],
            "version": None if versionless else vendor["extractor_version"],
            "formats": {flag: meta["format_support"][flag] for flag in FLAGS},
        }

    by_name = {vendor["name"]: record(vendor) for vendor in listed["items"]}
    assert [by_name[r["name"]] for r in EXPECTED["vendor_records"]] == EXPECTED["vendor_records"]
    for vendor in listed["items"]:  # defaults really stored, and complete
        assert set(vendor["metadata"]["test_results"]) == {"passing", "total", "skipped"}
        assert vendor["metadata"]["extractor_version"] == vendor["extractor_version"]


async def _deployments_as_expected(client: Client[Any]) -> None:
    listed = await call(client, "list_deployments", limit=50)
    found = [
        {
            "pr_number": deployment["metadata"]["pr_number"],
            "commit": deployment["commit_hash"],
            "vendors": [vendor["name"] for vendor in deployment["affected_vendors"]],
            "tests": deployment["metadata"]["test_summary"],
            "compliance": deployment["metadata"]["constitutional_compliance"],
        }
        for deployment in listed["items"]
    ]
    assert found == EXPECTED["deployment_records"]
    assert listed["items"][0]["deployed_at"] == "2025-10-09T21:30:00+00:00"
    assert listed["items"][0]["metadata"]["pr_title"] == "Remittance ledger remittance"


async def _enhancements_as_expected(client: Client[Any]) -> None:
    listed = await call(client, "list_enhancements")
    by_title = {
        e["title"]: {
            "title": e["title"],
            "priority": e["priority"],
            "status": e["status"],
            "target_quarter": e["target_quarter"],
        }
        for e in listed["items"]
    }
    records = EXPECTED["enhancement_records"]
    assert [by_title[r["title"]] for r in records] == records
    assert all(e["description"] for e in listed["items"])


async def _work_items_as_expected(client: Client[Any]) -> None:
    listed = await call(client, "list_work_items", detail="full", limit=200)
    title_of = {item["id"]: item["title"] for item in listed["items"]}
    from_prompts = [item for item in listed["items"] if item["title"].startswith("Session ")]
    by_title = {
        item["title"]: {
            "title": item["title"],
            "item_type": item["item_type"],
            "depth": item["depth"],
            "parent": title_of.get(item["parent_id"]),
            "status": item["status"],
        }
        for item in listed["items"]
        if item not in from_prompts
    }
    records = EXPECTED["item_records"]
    assert len(by_title) == len(records)
    assert [by_title[r["title"]] for r in records] == records
    first = next(item for item in listed["items"] if item["title"] == records[0]["title"])
    assert first["created_at"] == "2025-04-17T14:30:00+00:00"

    assert len(from_prompts) == EXPECTED["session_prompts"]
    session = next(item for item in from_prompts if item["title"] == "Session 0")
    assert session["item_type"] == "session" and session["parent_id"] is None
    assert session["created_at"] == "2025-09-01T00:00:00+00:00"
    assert session["metadata"] == {
        "token_budget": 100000,
        "prompts_count": 1,
        "yaml_frontmatter": {
            "schema_version": 1.0,
            "session_id": "s-000",
            "token_budget": 100000,
            "prompts_count": 1,
            "date": "2025-09-01",
        },
    }


async def test_a_dry_run_reconciles_and_writes_nothing(
    app: App, backend: Backend, tmp_path: Path
) -> None:
    before = await snapshot(backend)
    preview = await _import(app, tmp_path / "a", dry_run=True)
    assert preview.success and preview.dry_run and _all_match(preview)
    assert not preview.rollback_executed
    assert await snapshot(backend) == before
    done = await _import(app, tmp_path / "b")  # the dry run left no claim on the file
    assert done.success and done.reconciliation == preview.reconciliation


async def test_a_second_import_of_the_same_file_is_refused(
    app: App, backend: Backend, tmp_path: Path
) -> None:
    first = await _import(app, tmp_path / "a")
    assert first.success
    after_first = await snapshot(backend)
    for dry_run in (False, True):
        again = await _import(app, tmp_path / f"again-{dry_run}", dry_run=dry_run)
        assert not again.success and not again.rollback_executed
        assert again.source_sha256 == first.source_sha256
        assert "imported before" in again.errors[0]
    assert await snapshot(backend) == after_first


async def test_of_two_concurrent_imports_of_one_file_one_wins(
    backend: Backend, tmp_path: Path
) -> None:
    apps = [await open_app(backend.settings()) for _ in range(2)]
    try:
        results = await asyncio.gather(
            *(_import(app, tmp_path / str(n)) for n, app in enumerate(apps))
        )
    finally:
        for app in apps:
            await close_app(app)
    assert sorted(result.success for result in results) == [False, True]
    listed = await _count_vendors(backend)
    assert listed == EXPECTED["vendors"]


async def _count_vendors(backend: Backend) -> int:
    rows = await snapshot(backend)
    return len(rows["vendors"])


async def test_a_short_commit_is_resolved_in_the_repository(
    app: App, backend: Backend, client: Client[Any], tmp_path: Path
) -> None:
    repo = git.Repo.init(backend.repo)
    actor = git.Actor("t", "t@example.com")
    full = repo.index.commit("first", author=actor, committer=actor).hexsha
    repo.close()
    status, prompts = copy_fixture(
        tmp_path, lambda text: text.replace(PR_105_COMMIT, f"- **Commit**: `{full[:7]}`")
    )
    result = await import_legacy(app, path=status, prompts_dir=prompts)
    assert result.success, result.errors
    listed = await call(client, "list_deployments", limit=50)
    assert [d["commit_hash"] for d in listed["items"]][1] == full


async def _fails_untouched(
    app: App, backend: Backend, tmp_path: Path, edit: Any, **options: Any
) -> ImportResult:
    """Import an edited fixture that must fail; the database and the files stay as they were."""
    status, prompts = copy_fixture(tmp_path, edit)
    files_before, rows_before = fingerprints(status.parent), await snapshot(backend)
    result = await import_legacy(app, path=status, prompts_dir=prompts, **options)
    assert not result.success and result.errors
    assert await snapshot(backend) == rows_before
    assert fingerprints(status.parent) == files_before
    return result


async def test_an_unresolvable_short_commit_fails_naming_its_line(
    app: App, backend: Backend, tmp_path: Path
) -> None:
    result = await _fails_untouched(
        app, backend, tmp_path, lambda text: text.replace(PR_105_COMMIT, "- **Commit**: `abc1234`")
    )
    line = line_of(STATUS_TEXT, PR_105)
    assert result.errors == [
        f"line {line} (deployment PR #105): commit 'abc1234' names no single commit "
        f"in WORKTRACK_REPO ({backend.repo})"
    ]
    assert not result.rollback_executed  # refused before anything was written


@pytest.mark.parametrize("commit", ["--output=/tmp/owned", "HEAD", "e4fb44z", "abc"])
async def test_a_commit_that_is_no_hash_never_reaches_git(
    app: App, backend: Backend, tmp_path: Path, commit: str
) -> None:
    result = await _fails_untouched(
        app, backend, tmp_path, lambda text: text.replace(PR_105_COMMIT, f"- **Commit**: {commit}")
    )
    line = line_of(STATUS_TEXT, PR_105)
    assert result.errors == [
        f"line {line} (deployment PR #105): commit {commit!r} is not a commit hash "
        "(4 to 40 hex characters)"
    ]


async def test_a_bad_quarter_fails_naming_its_line(
    app: App, backend: Backend, tmp_path: Path
) -> None:
    heading = "### Broker index parser enhancement 1 (Priority: 1)"
    result = await _fails_untouched(
        app,
        backend,
        tmp_path,
        lambda text: text.replace("- **Target**: Q4 2026", "- **Target**: Q5 2026"),
    )
    assert result.errors == [
        f"line {line_of(STATUS_TEXT, heading)} (enhancement 'Broker index parser enhancement 1')"
        ": target 'Q5 2026' is not a quarter (write 2026-Q1 or Q1 2026)"
    ]


async def test_a_failing_check_rolls_everything_back(
    app: App, backend: Backend, tmp_path: Path
) -> None:
    async with _vendor_metadata_corrupted(backend):
        result = await _fails_untouched(app, backend, tmp_path, None)
    assert result.rollback_executed
    assert not result.reconciliation.vendor_metadata.match
    assert result.reconciliation.vendor_metadata.migrated == 0
    assert result.reconciliation.vendor_count.match  # the rows were there, but damaged
    assert result.errors == ["reconciliation failed: the import was rolled back"]
    assert result.data_preservation_percentage < 100


class _vendor_metadata_corrupted:
    """A trigger that drops the ocr flag from every vendor stored, as a faulty layer might."""

    SQLITE = (
        "CREATE TRIGGER corrupt_vendor AFTER INSERT ON vendors BEGIN "
        "UPDATE vendors SET metadata = json_remove(metadata, '$.format_support.ocr') "
        "WHERE id = NEW.id; END",
    )
    POSTGRES = (
        "CREATE FUNCTION corrupt_vendor() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "UPDATE vendors SET metadata = metadata #- '{format_support,ocr}' WHERE id = NEW.id; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER corrupt_vendor AFTER INSERT ON vendors "
        "FOR EACH ROW EXECUTE FUNCTION corrupt_vendor()",
    )
    UNDO_SQLITE = ("DROP TRIGGER corrupt_vendor",)
    UNDO_POSTGRES = ("DROP TRIGGER corrupt_vendor ON vendors", "DROP FUNCTION corrupt_vendor()")

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    async def _run(self, statements: tuple[str, ...]) -> None:
        app = await open_app(self.backend.settings())
        try:

            async def execute(conn: Any) -> None:
                for statement in statements:
                    await conn.exec_driver_sql(statement)

            await app.db.run(execute, write=True)
        finally:
            await close_app(app)

    async def __aenter__(self) -> None:
        await self._run(self.SQLITE if self.backend.name == "sqlite" else self.POSTGRES)

    async def __aexit__(self, *_: object) -> None:
        await self._run(self.UNDO_SQLITE if self.backend.name == "sqlite" else self.UNDO_POSTGRES)


async def test_a_write_failing_midway_undoes_the_earlier_writes(
    app: App, backend: Backend, tmp_path: Path
) -> None:
    result = await _fails_untouched(
        app,
        backend,
        tmp_path,
        lambda text: text.replace(
            "- **Vendors**: vendor_007, vendor_009", "- **Vendors**: vendor_007, vendor_999"
        ),
    )
    heading = "### 2025-09-30 21:30:00 UTC - PR #103"
    assert result.rollback_executed  # vendors and work items had been written
    assert result.errors == [
        f"line {line_of(STATUS_TEXT, heading)} (deployment PR #103): no vendor named "
        "'vendor_999', in the file or the database"
    ]


async def test_a_vendor_already_stored_fails_the_import(
    app: App, backend: Backend, client: Client[Any], tmp_path: Path
) -> None:
    await call(
        client,
        "create_vendor",
        name="VENDOR_003",
        extractor_version="9",
        metadata={
            "format_support": dict.fromkeys(FLAGS, True),
            "test_results": {"passing": 1, "total": 1, "skipped": 0},
        },
    )
    result = await _fails_untouched(app, backend, tmp_path, None)
    assert result.rollback_executed
    assert result.errors == [
        f"line {line_of(STATUS_TEXT, '- **vendor_003**: operational')} (vendor 'vendor_003'): "
        "a vendor named 'VENDOR_003' already exists (names ignore case)"
    ]


async def test_lines_the_parser_cannot_read_fail_the_import(
    app: App, backend: Backend, tmp_path: Path
) -> None:
    result = await _fails_untouched(
        app,
        backend,
        tmp_path,
        lambda text: text.replace(
            "## Active Work Items (10)\n", "## Active Work Items (10)\njunk\n"
        ),
    )
    line = line_of(STATUS_TEXT, "## Active Work Items (10)") + 1
    assert result.errors == [f"line {line}: not part of a work item entry: junk"]


async def test_prompt_sessions_take_the_configured_budget_or_are_skipped(
    app: App, client: Client[Any], tmp_path: Path
) -> None:
    await configuration.update_project_configuration(app, version=1, default_token_budget=50_000)
    status, prompts = copy_fixture(tmp_path)
    (prompts / "bare.md").write_text("---\nschema_version: 2\n---\n", encoding="utf-8")
    (prompts / "tiny.md").write_text(
        "---\nschema_version: 2\ntoken_budget: 10\n---\n# Tiny\n", encoding="utf-8"
    )
    (prompts / "notes.txt").write_text("not a prompt", encoding="utf-8")
    result = await import_legacy(app, path=status, prompts_dir=prompts)
    assert result.success, result.errors
    assert [s.file for s in result.skipped] == ["broken-00.md", "broken-01.md", "tiny.md"]
    assert result.skipped[2].reason.startswith("metadata.token_budget: ")
    sessions = await call(client, "list_work_items", item_type="session", detail="full")
    [item] = [i for i in sessions["items"] if i["title"] == "bare"]
    assert item["metadata"]["token_budget"] == 50_000 and item["metadata"]["prompts_count"] == 0
    applied = {(d.entity, d.field): d for d in result.defaults_applied}
    assert applied["session_prompt", "metadata.token_budget"].value == 50_000
    assert applied["session_prompt", "metadata.token_budget"].applied_to == ["bare.md"]
    assert applied["session_prompt", "created_at"].applied_to == ["bare.md"]
    created = datetime.fromisoformat(item["created_at"])
    assert created > datetime(2026, 1, 1, tzinfo=UTC)  # no date in the file: the import's time


async def test_files_that_are_not_there_are_bad_input(app: App, tmp_path: Path) -> None:
    status, _ = copy_fixture(tmp_path)
    with pytest.raises(ValidationError) as missing:
        await import_legacy(app, path=tmp_path / "nope.md")
    assert missing.value.field == "path"
    with pytest.raises(ValidationError) as no_dir:
        await import_legacy(app, path=status, prompts_dir=tmp_path / "nope")
    assert no_dir.value.field == "prompts"


async def test_a_deployment_may_name_a_vendor_already_stored(
    app: App, client: Client[Any], tmp_path: Path
) -> None:
    stored = await call(
        client,
        "create_vendor",
        name="Legacy Parser",
        extractor_version="3",
        metadata={
            "format_support": dict.fromkeys(FLAGS, False),
            "test_results": {"passing": 0, "total": 0, "skipped": 0},
        },
    )
    status, prompts = copy_fixture(
        tmp_path,
        lambda text: text.replace(
            "- **Vendors**: vendor_007, vendor_009", "- **Vendors**: legacy parser, vendor_009"
        ),
    )
    result = await import_legacy(app, path=status, prompts_dir=prompts)
    assert result.success, result.errors
    linked = await call(client, "list_deployments", vendor_name="Legacy Parser")
    [deployment] = linked["items"]
    vendors = deployment["affected_vendors"]
    assert [v["name"] for v in vendors] == ["Legacy Parser", "vendor_009"]
    assert vendors[0]["id"] == stored["id"]
    assert deployment["metadata"]["pr_number"] == 103
