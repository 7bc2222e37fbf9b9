"""The generated legacy files: the sizes asked for, the same bytes each time, a clean import."""

from __future__ import annotations

from pathlib import Path

from worktrack.legacy.prompts import read_prompts
from worktrack.legacy.sample import write_sample
from worktrack.report.parse import parse
from worktrack.services.app import App
from worktrack.services.legacy_import import import_legacy

from legacy_files import fingerprints


def test_the_default_sample_has_the_benchmark_sizes(tmp_path: Path) -> None:
    sample = write_sample(tmp_path)
    parsed = parse(sample.status_file.read_text(encoding="utf-8"))
    assert parsed.errors == []
    sizes = (len(parsed.vendors), len(parsed.work_items), len(parsed.deployments))
    assert sizes == (45, 1200, 100) == (sample.vendors, sample.work_items, sample.deployments)
    assert len(parsed.enhancements) == sample.enhancements == 20
    assert max(item.depth for item in parsed.work_items) == 3
    prompts, skipped = read_prompts(sample.prompts_dir)
    assert (len(prompts), skipped) == (200, [])
    targets = {enhancement.target for enhancement in parsed.enhancements}
    assert {"Q1 2026", "2027-Q2"} <= targets  # both quarter forms
    one_line = [v for v in parsed.vendors if v.skipped is not None and v.extractor_version]
    assert one_line  # the optional parts appear


def test_the_same_arguments_write_the_same_bytes(tmp_path: Path) -> None:
    write_sample(tmp_path / "a", work_items=50, prompts=3)
    write_sample(tmp_path / "b", work_items=50, prompts=3)
    write_sample(tmp_path / "c", work_items=50, prompts=3, seed=1)
    assert fingerprints(tmp_path / "a") == fingerprints(tmp_path / "b")
    assert fingerprints(tmp_path / "a") != fingerprints(tmp_path / "c")


async def test_a_small_sample_imports_cleanly(app: App, tmp_path: Path) -> None:
    sample = write_sample(
        tmp_path, vendors=6, work_items=40, deployments=5, prompts=4, enhancements=3
    )
    result = await import_legacy(app, path=sample.status_file, prompts_dir=sample.prompts_dir)
    assert result.success, result.errors
    assert {name: check.migrated for name, check in result.reconciliation} == {
        "vendor_count": 6,
        "deployment_count": 5,
        "enhancement_count": 3,
        "session_prompt_count": 4,
        "vendor_metadata": 6,
        "work_item_count": 40,
    }
    assert result.data_preservation_percentage == 100.0
