"""The markdown status report: one consistent read, rendered, optionally written to disk.

``detail="summary"`` (the default) returns the digest (``report.summary``), ``"full"`` the
whole report; the status file always gets the whole report."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import paths
from worktrack.errors import ValidationError
from worktrack.models.reports import ReportCounts, StatusReport
from worktrack.models.work_items import WorkItemSummary
from worktrack.progress import Progress, silent
from worktrack.report import files, readmodel, render, summary
from worktrack.services import readiness
from worktrack.services.app import App, reads
from worktrack.settings import Settings

# Rows in the report from which its progress is worth telling: below it a report takes a
# few milliseconds; at 100,000 items, a tenth of a second or more.
LARGE_REPORT_ROWS = 1_000


def parse_since(since: str | None) -> datetime | None:
    if since is None:
        return None
    try:
        at = datetime.fromisoformat(since)
    except ValueError:
        raise ValidationError(
            "since", "an ISO-8601 timestamp such as 2026-11-22T10:15:00+00:00"
        ) from None
    if at.tzinfo is None:
        raise ValidationError("since", "needs a UTC offset, e.g. 2026-11-22T10:15:00+00:00")
    return at


Detail = Literal["summary", "full"]


class _Rendered(StatusReport):
    full: str | None  # the whole report, when it is to be written to the status file


@reads
async def _report(
    app: App,
    conn: AsyncConnection,
    *,
    since: datetime | None,
    progress: Progress,
    ready: Sequence[WorkItemSummary] | None,
    full: bool,
) -> _Rendered:
    """The digest when ``ready`` is given (the items ``ready_work`` chose), and the whole
    report when ``full``, both from one snapshot; the digest alone reads only what it
    shows and counts (``readmodel.load_digest``)."""
    if not full:
        assert ready is not None, "a digest, the whole report, or both"
        digest = await readmodel.load_digest(conn, since)
        markdown = summary.render(digest, ready, app.clock())
        return _Rendered(
            markdown=markdown, path=None, counts=ReportCounts(**digest.counts), full=None
        )
    snapshot = await readmodel.load(conn, since)
    parts = (snapshot.vendors, snapshot.work_items, snapshot.deployments, snapshot.enhancements)
    rows = sum(len(part) for part in parts)
    told = progress if rows >= LARGE_REPORT_ROWS else silent
    await told(1, 2, f"read {rows} rows for the status report")
    now = app.clock()
    whole = render.render(snapshot, now)
    await told(2, 2, "rendered the status report")
    counted = render.counts(snapshot)
    markdown = whole
    if ready is not None:  # the digest of the same snapshot (the file gets the whole)
        markdown = summary.render(readmodel.digest_of(snapshot), ready, now)
    return _Rendered(markdown=markdown, path=None, counts=ReportCounts(**counted), full=whole)


async def generate_status_report(
    app: App,
    *,
    write_file: bool = False,
    since: str | None = None,
    detail: Detail = "summary",
    progress: Progress = silent,
) -> StatusReport:
    at = parse_since(since)
    ready = (await readiness.ready_work(app)).items if detail == "summary" else None
    rendered = await _report(
        app, since=at, progress=progress, ready=ready, full=write_file or detail == "full"
    )
    # Validated as _Rendered already; the result is the tool's model, without ``full``.
    report = StatusReport.model_construct(
        **{name: getattr(rendered, name) for name in StatusReport.model_fields}
    )
    if not write_file:
        return report
    if report.data_source not in ("postgresql", "sqlite"):
        # A report from a fallback layer shows less than the file may (only what this
        # machine saw); during an outage the file is kept by the queued writes instead.
        kept = "the status file was not written: the database is unavailable"
        return report.model_copy(update={"warnings": [*(report.warnings or []), kept]})
    path = paths.status_file(app.settings)
    assert rendered.full is not None
    await asyncio.to_thread(_write, app.settings, path, rendered.full)
    return report.model_copy(update={"path": str(path)})


def _write(settings: Settings, path: Path, markdown: str) -> None:
    """Write the file under its lock, kept in the state folder (created if need be)."""
    lock = files.lock_path(path, paths.prepare_home(settings))
    files.write_atomically(path, markdown, lock=lock)
