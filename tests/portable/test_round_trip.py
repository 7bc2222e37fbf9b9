"""``worktrack export`` / ``worktrack import``: every entity kind, awkward values, both
databases; determinism, refusals that change nothing, and one consistent read."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from typer.testing import CliRunner

from worktrack.cli import app as cli
from worktrack.errors import ConflictError, ValidationError
from worktrack.legacy.sample import write_sample
from worktrack.portable.kinds import BY_NAME
from worktrack.server import create_server
from worktrack.services import legacy_import, portability, work_items
from worktrack.services.app import App
from worktrack.startup import close_app, open_app
from worktrack.store import portable as store

from conftest import Backend, Clock
from helpers import call, project, task

LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy"
WORKTRACK = str(Path(sys.executable).with_name("worktrack"))
AWKWARD = 'Ünïcödé 🚀 «quotes» "double" \\back\u2028separator\ttab'
NESTED = {
    "schema_version": "1.0",
    "nested": {"z": [1, 0.1, 1e-07, 2.5e-05, {"b": None, "a": True}], "ünï": "🚀", "empty": {}},
}


async def fill(client: Client[Any], clock: Clock) -> None:
    """One or more rows of every exported kind but the legacy ledger (``fill_legacy``)."""
    config = await call(client, "get_project_configuration")
    await call(
        client,
        "update_project_configuration",
        version=config["version"],
        active_context_type="maintenance",
        git_branch="feature/ünï-🚀",
    )
    flags = {"excel": True, "csv": False, "pdf": True, "ocr": False, "xml": True}
    vendor = await call(
        client,
        "create_vendor",
        name=AWKWARD[:40],
        extractor_version="1.2.3",
        metadata={
            "format_support": flags,
            "test_results": {"passing": 7, "total": 9, "skipped": 1},
            "manifest_compliant": True,
        },
    )
    root = await project(client, AWKWARD)
    session = await call(
        client,
        "create_work_item",
        item_type="session",
        title="Session",
        parent_id=root["id"],
        metadata={"token_budget": 50_000, "prompts_count": 2, "yaml_frontmatter": NESTED},
    )
    done = await task(client, "finished long ago", session)
    await call(client, "add_note", work_item_id=done["id"], text="done: see the PR")
    await call(client, "add_note", work_item_id=done["id"], text=AWKWARD, created_by="ünï")
    await call(client, "update_work_item", id=done["id"], version=1, status="completed")
    gone = await task(client, "dropped", session)
    await call(client, "update_work_item", id=gone["id"], version=1, deleted=True)
    await call(
        client,
        "record_deployment",
        deployed_at="2026-11-20T09:30:15.123456+02:00",
        commit_hash="b" * 40,
        metadata={
            "pr_number": 3,
            "pr_title": "Ship «it»",
            "test_summary": {"unit": 10, "e2e": 0},
            "constitutional_compliance": False,
        },
        affected_vendor_ids=[vendor["id"]],
        related_work_item_ids=[done["id"]],
    )
    clock.advance(days=400)
    await call(client, "archive_work_items")  # the two above (and done's notes) move to the archive
    work = await task(
        client,
        "Do it 🚀",
        session,
        metadata={"estimated_hours": 0.1, "actual_hours": 1e-07},
        branch_name="feature/x",
        commit_hash="a" * 40,
        pr_number=12,
    )
    research = await call(
        client,
        "create_work_item",
        item_type="research",
        title="Find out",
        parent_id=session["id"],
        metadata={"research_questions": ["why?", "¿por qué?"], "findings_summary": ""},
    )
    await call(client, "add_dependency", source_id=work["id"], target_id=research["id"],
               dependency_type="blocks")  # fmt: skip
    await call(client, "claim_work_item", id=research["id"], claimed_by="ada")
    for text in ("first", AWKWARD, "  indented\n\tand tabbed  "):
        await call(client, "add_note", work_item_id=work["id"], text=text)
    first = await call(client, "create_enhancement", title="Later", target_quarter="2027-Q1")
    await call(
        client,
        "create_enhancement",
        title="Much later",
        description=AWKWARD,
        depends_on_ids=[first["id"]],
        requires_constitutional_principles=["ünï"],
    )


async def fill_legacy(app: App) -> None:
    done = await legacy_import.import_legacy(
        app, path=LEGACY / ".project_status.md", prompts_dir=LEGACY / "prompts"
    )
    assert done.success, done.errors


async def export_text(app: App) -> str:
    written: list[str] = []

    async def write(found: list[str]) -> None:
        written.extend(found)

    await portability.export_data(app, write)
    return "".join(f"{line}\n" for line in written)


def body(text: str) -> list[str]:
    """The lines after the header; the header without exported_at."""
    header, *rest = text.split("\n")  # not splitlines(): U+2028 is text inside a line
    shown = json.loads(header)
    del shown["exported_at"]
    return [json.dumps(shown), *[line for line in rest if line]]


def sqlite_backend(template: Path, where: Path) -> Backend:
    home, repo = where / "home", where / "repo"
    home.mkdir(parents=True)
    repo.mkdir()
    shutil.copyfile(template, home / "worktrack.db")
    return Backend("sqlite", f"sqlite+aiosqlite:///{home / 'worktrack.db'}", home, repo)


async def filled(backend: Backend, clock: Clock) -> None:
    async with Client(create_server(backend.settings(), clock=clock)) as client:
        await fill(client, clock)
    app = await open_app(backend.settings(), clock)
    try:
        await fill_legacy(app.acting_as("import-legacy"))
    finally:
        await close_app(app)


async def using(backend: Backend, clock: Clock, work: Callable[[App], Awaitable[Any]]) -> Any:
    app = await open_app(backend.settings(), clock)
    try:
        return await work(app.acting_as("tester"))
    finally:
        await close_app(app)


def _kinds(text: str) -> set[str]:
    return {json.loads(line)["kind"] for line in text.split("\n")[1:] if line}


async def test_two_exports_of_the_same_data_differ_only_in_exported_at(
    backend: Backend, clock: Clock
) -> None:
    await filled(backend, clock)
    first = await using(backend, clock, export_text)
    clock.advance(minutes=5)
    second = await using(backend, clock, export_text)
    assert first != second and body(first) == body(second)
    assert _kinds(first) == set(BY_NAME)  # every kind is present
    assert json.dumps(AWKWARD, ensure_ascii=False)[1:-1] in first  # as stored, UTF-8
    assert "\u2028" in first and '"actual_hours":1e-07' in first and "0.1," in first


async def test_an_export_imports_into_an_empty_sqlite_and_exports_the_same(
    backend: Backend, clock: Clock, sqlite_template: Path, tmp_path: Path
) -> None:
    await filled(backend, clock)
    exported = await using(backend, clock, export_text)
    file = tmp_path / "export.jsonl"
    file.write_text(exported, encoding="utf-8")
    target = sqlite_backend(sqlite_template, tmp_path / "target")

    seen: list[tuple[int, int | None, str]] = []

    async def watch(done: int, total: int | None, step: str) -> None:
        seen.append((done, total, step))

    imported = await using(target, clock, lambda app: portability.import_data(app, file, watch))
    rows = len(exported.split("\n")) - 2  # less the header and the final newline
    assert sum(imported.counts.values()) == rows
    assert seen[-1][:2] == (rows, rows)  # the load's progress ends at the whole file
    assert body(await using(target, clock, export_text)) == body(exported)


async def _filled_export(sqlite_template: Path, tmp_path: Path, clock: Clock) -> str:
    """The export of every kind, from a filled embedded database of its own."""
    source = sqlite_backend(sqlite_template, tmp_path / "source")
    await filled(source, clock)
    exported: str = await using(source, clock, export_text)
    return exported


async def test_history_ids_carry_on_after_an_import(
    backend: Backend, clock: Clock, sqlite_template: Path, tmp_path: Path
) -> None:
    file = tmp_path / "export.jsonl"
    file.write_text(await _filled_export(sqlite_template, tmp_path, clock), encoding="utf-8")
    await using(backend, clock, lambda app: portability.import_data(app, file))
    async with Client(create_server(backend.settings(), clock=clock)) as client:
        made = await project(client, "after the import")  # a new change-log row
        changes = await call(client, "get_history", entity="work_item", id=made["id"])
    assert [c["version"] for c in changes["changes"]] == [1]
    after = await using(backend, clock, export_text)
    ids = [json.loads(line)["id"] for line in after.split("\n") if '"kind":"history"' in line]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)


async def _occupied(backend: Backend, clock: Clock) -> list[str]:
    return await using(backend, clock, lambda app: app.db.run(store.occupied))


async def test_a_database_that_holds_data_is_refused_and_left_as_it_was(
    backend: Backend, clock: Clock, tmp_path: Path
) -> None:
    await filled(backend, clock)
    before = await using(backend, clock, export_text)
    file = tmp_path / "export.jsonl"
    file.write_text(before, encoding="utf-8")
    with pytest.raises(ConflictError, match="already holds configuration, vendor, work_item"):
        await using(backend, clock, lambda app: portability.import_data(app, file))
    assert body(await using(backend, clock, export_text)) == body(before)


async def test_a_database_holding_only_a_work_item_is_refused(
    backend: Backend, clock: Clock, sqlite_template: Path, tmp_path: Path
) -> None:
    file = tmp_path / "export.jsonl"
    file.write_text(await _filled_export(sqlite_template, tmp_path, clock), encoding="utf-8")
    async with Client(create_server(backend.settings(), clock=clock)) as client:
        await project(client, "already here")
    with pytest.raises(ConflictError, match="already holds work_item, history rows"):
        await using(backend, clock, lambda app: portability.import_data(app, file))
    async with Client(create_server(backend.settings(), clock=clock)) as client:
        listed = await call(client, "list_work_items")
    assert [item["title"] for item in listed["items"]] == ["already here"]


def _broken(lines: list[str], number: int, how: str) -> list[str]:
    changed = list(lines)
    if how == "not json":
        changed[number - 1] = changed[number - 1][:-5]
    elif how == "duplicate":
        changed[number - 1] = changed[number - 2]
    elif how == "revision":
        header = json.loads(changed[0])
        changed[0] = json.dumps(header | {"schema_revision": "0001"})
    return changed


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("not json", "line 9: not JSON"),
        ("duplicate", "line 9: a second"),
        ("revision", "exported at schema revision 0001, but this database is at"),
    ],
)
async def test_a_bad_file_is_refused_and_nothing_is_loaded(
    backend: Backend,
    clock: Clock,
    sqlite_template: Path,
    tmp_path: Path,
    how: str,
    said: str,
) -> None:
    exported = (await _filled_export(sqlite_template, tmp_path, clock)).split("\n")[:-1]
    file = tmp_path / "broken.jsonl"
    file.write_text("\n".join(_broken(exported, 9, how)) + "\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=said) as refused:
        await using(backend, clock, lambda app: portability.import_data(app, file))
    assert refused.value.field == "file" and str(file) in refused.value.message
    assert await _occupied(backend, clock) == []


async def test_an_empty_file_and_a_missing_one_are_refused(
    backend: Backend, clock: Clock, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(ValidationError, match="line 1: the file is empty"):
        await using(backend, clock, lambda app: portability.import_data(app, empty))
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b'{"kind": "worktrack-export"}\n\xff\xfe\n')
    with pytest.raises(ValidationError, match="line 1: the header's fields"):
        await using(backend, clock, lambda app: portability.import_data(app, bad))
    with pytest.raises(ValidationError, match="is not a file"):
        await using(backend, clock, lambda app: portability.import_data(app, tmp_path / "nope"))


async def test_export_reads_one_consistent_snapshot(backend: Backend, clock: Clock) -> None:
    """A work item committed while an export runs is in neither its counts nor its lines."""
    await filled(backend, clock)
    app = await open_app(backend.settings(), clock)
    other = await open_app(backend.settings(), clock)
    written: list[str] = []

    async def write(found: list[str]) -> None:
        if not written:  # the export's transaction has read its counts: commit elsewhere
            await work_items.create_work_item(
                other.acting_as("elsewhere"),
                item_type="project",
                title="committed meanwhile",
                description="during the export",
            )
        written.extend(found)

    try:
        done = await portability.export_data(app, write)
    finally:
        await close_app(app)
        await close_app(other)
    assert not any("committed meanwhile" in line for line in written)
    assert sum(done.counts.values()) == len(written) - 1
    expected = "sqlite" if backend.name == "sqlite" else "postgresql"
    assert done.source == expected and done.replica_note is None


# -- the command line, across both databases ---------------------------------------------


def _runner(backend: Backend) -> CliRunner:
    return CliRunner(
        env={
            "WORKTRACK_DATABASE_URL": backend.url,
            "WORKTRACK_HOME": str(backend.home),
            "WORKTRACK_REPO": str(backend.repo),
        }
    )


def _run(backend: Backend, *args: str) -> Any:
    done = _runner(backend).invoke(cli, list(args))
    assert done.exit_code == 0, done.output
    return done


async def _filled_through_tools(backend: Backend, clock: Clock) -> None:
    async with Client(create_server(backend.settings(), clock=clock)) as client:
        await fill(client, clock)


@pytest.mark.postgres
def test_sqlite_to_postgres_to_sqlite_gives_back_the_same_export(
    pg_backend: Backend, clock: Clock, sqlite_template: Path, tmp_path: Path
) -> None:
    """The move the README shows, and back: `export`, `import`, `export` again."""
    first = sqlite_backend(sqlite_template, tmp_path / "first")
    asyncio.run(_filled_through_tools(first, clock))
    legacy = ["import-legacy", str(LEGACY / ".project_status.md"), "--prompts"]
    _run(first, *legacy, str(LEGACY / "prompts"))
    a, b, c = (tmp_path / f"{name}.jsonl" for name in "abc")
    exported = _run(first, "export", "--output", str(a))
    assert "exported" in exported.stderr and "from sqlite" in exported.stderr

    imported = _run(pg_backend, "import", str(a))
    assert imported.stdout.startswith("imported ")
    _run(pg_backend, "export", "--output", str(b))

    last = sqlite_backend(sqlite_template, tmp_path / "last")
    _run(last, "import", str(b))
    _run(last, "export", "--output", str(c))

    texts = [path.read_text(encoding="utf-8") for path in (a, b, c)]
    assert _kinds(texts[0]) == set(BY_NAME)
    assert body(texts[0]) == body(texts[1]) == body(texts[2])
    assert len({json.loads(text.split("\n")[0])["exported_at"] for text in texts}) == 3

    again = _runner(pg_backend).invoke(cli, ["import", str(a)])
    assert again.exit_code == 1 and "already holds" in again.stderr


def test_export_to_stdout_and_a_refused_import_through_the_command(
    backend: Backend, tmp_path: Path
) -> None:
    done = _run(backend, "export")
    header = json.loads(done.stdout.splitlines()[0])
    assert header["kind"] == "worktrack-export" and header["format"] == 1
    broken = tmp_path / "broken.jsonl"
    broken.write_text(done.stdout + '{"kind": "vendor"}\n', encoding="utf-8")
    refused = _runner(backend).invoke(cli, ["import", str(broken)])
    assert refused.exit_code == 2
    assert refused.stderr.startswith(f"worktrack: {broken}: line 2: vendor fields: missing ")


async def test_a_row_the_schema_refuses_refuses_the_import(
    backend: Backend, clock: Clock, sqlite_template: Path, tmp_path: Path
) -> None:
    """Well-formed lines the database itself refuses (here a status outside its check)."""
    exported = await _filled_export(sqlite_template, tmp_path, clock)
    file = tmp_path / "refused.jsonl"
    file.write_text(exported.replace('"status":"active"', '"status":"someday"', 1), "utf-8")
    with pytest.raises(ValidationError, match="the database refused a work_item line"):
        await using(backend, clock, lambda app: portability.import_data(app, file))
    assert await _occupied(backend, clock) == []


@pytest.mark.slow
def test_a_reader_that_stops_early_ends_the_export_quietly(tmp_path: Path) -> None:
    """`worktrack export | head`: no traceback, no talk of an unreachable database."""
    sample = write_sample(tmp_path / "legacy", work_items=600, prompts=0)
    (tmp_path / "repo").mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "WORKTRACK_HOME": str(tmp_path / "home"),
        "WORKTRACK_REPO": str(tmp_path / "repo"),
    }
    loaded = subprocess.run(
        [WORKTRACK, "import-legacy", str(sample.status_file)], env=env, capture_output=True
    )
    assert loaded.returncode == 0, loaded.stderr
    export = subprocess.Popen(
        [WORKTRACK, "export"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert export.stdout is not None and export.stderr is not None
    assert export.stdout.readline().startswith(b'{"kind":"worktrack-export"')
    export.stdout.close()  # far more than a pipe's buffer is still to come
    assert export.wait(timeout=120) == 1
    said = export.stderr.read()
    export.stderr.close()
    assert said == b""


@pytest.mark.postgres
async def test_an_export_never_holds_the_database_credentials(
    pg_backend: Backend, clock: Clock
) -> None:
    secret = "s3cret-never-exported"
    url = pg_backend.url.replace("postgres@", f"postgres:{secret}@")  # trust auth: unused
    with_password = Backend("postgres", url, pg_backend.home, pg_backend.repo)
    await filled(with_password, clock)
    exported = await using(with_password, clock, export_text)
    assert secret not in exported and "postgresql+asyncpg" not in exported
    assert _kinds(exported) == set(BY_NAME)
