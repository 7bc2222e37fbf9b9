"""``worktrack import-legacy`` through typer's runner, on both databases."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from worktrack.cli import app as cli

from conftest import Backend
from legacy_files import copy_fixture, fingerprints

CONTRACT_FIELDS = {
    "success",
    "dry_run",
    "data_preservation_percentage",
    "reconciliation",
    "skipped",
    "defaults_applied",
    "rollback_executed",
}
CHECKS = {
    "vendor_count",
    "deployment_count",
    "enhancement_count",
    "session_prompt_count",
    "vendor_metadata",
}


def _runner(backend: Backend) -> CliRunner:
    return CliRunner(
        env={
            "WORKTRACK_DATABASE_URL": backend.url,
            "WORKTRACK_HOME": str(backend.home),
            "WORKTRACK_REPO": str(backend.repo),
        }
    )


def test_json_output_is_the_contract_result(backend: Backend, tmp_path: Path) -> None:
    status, prompts = copy_fixture(tmp_path)
    runner = _runner(backend)
    command = ["import-legacy", str(status), "--prompts", str(prompts), "--json"]
    preview = runner.invoke(cli, [*command, "--dry-run"])
    assert preview.exit_code == 0, preview.output
    assert json.loads(preview.stdout)["dry_run"] is True

    done = runner.invoke(cli, command)
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert set(result) >= CONTRACT_FIELDS and set(result["reconciliation"]) >= CHECKS
    assert result["success"] is True and result["dry_run"] is False
    assert result["reconciliation"]["vendor_metadata"] == {
        "source": 12,
        "migrated": 12,
        "match": True,
    }
    assert [s["file"] for s in result["skipped"]] == ["broken-00.md", "broken-01.md"]

    again = runner.invoke(cli, command)
    assert again.exit_code == 1 and json.loads(again.stdout)["success"] is False


def test_text_output_and_a_failed_import(backend: Backend, tmp_path: Path) -> None:
    status, prompts = copy_fixture(
        tmp_path, lambda text: text.replace("- **Target**: Q3 2026", "- **Target**: soon")
    )
    before = fingerprints(status.parent)
    failed = _runner(backend).invoke(cli, ["import-legacy", str(status), "--prompts", str(prompts)])
    assert failed.exit_code == 1
    assert failed.stdout.startswith("import failed: nothing was written")
    assert "target 'soon' is not a quarter" in failed.stdout
    assert fingerprints(status.parent) == before

    fixed, _ = copy_fixture(tmp_path / "fixed")
    done = _runner(backend).invoke(cli, ["import-legacy", str(fixed)])
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("import succeeded")
    assert 'vendor extractor_version = "unknown": vendor_001' in done.stdout
    assert "and 3 more" in done.stdout


def test_a_missing_file_is_a_usage_error(backend: Backend, tmp_path: Path) -> None:
    missing = _runner(backend).invoke(cli, ["import-legacy", str(tmp_path / "nope.md")])
    assert missing.exit_code == 2
    assert "is not a file" in missing.stderr
