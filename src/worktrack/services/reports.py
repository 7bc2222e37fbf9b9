"""The markdown status report: one consistent read, rendered, optionally written to disk."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from worktrack import paths
from worktrack.errors import ValidationError
from worktrack.models.reports import ReportCounts, StatusReport
from worktrack.progress import Progress, silent
from worktrack.report import files, readmodel, render
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


@reads
async def _report(
    app: App, conn: AsyncConnection, *, since: datetime | None, progress: Progress
) -> StatusReport:
    snapshot = await readmodel.load(conn, since)
    parts = (snapshot.vendors, snapshot.work_items, snapshot.deployments, snapshot.enhancements)
    rows = sum(len(part) for part in parts)
    told = progress if rows >= LARGE_REPORT_ROWS else silent
    await told(1, 2, f"read {rows} rows for the status report")
    markdown = render.render(snapshot, app.clock())
    await told(2, 2, "rendered the status report")
    return StatusReport(
        markdown=markdown, path=None, counts=ReportCounts(**render.counts(snapshot))
    )


async def generate_status_report(
    app: App, *, write_file: bool = False, since: str | None = None, progress: Progress = silent
) -> StatusReport:
    report = await _report(app, since=parse_since(since), progress=progress)
    if not write_file:
        return report
    if report.data_source not in ("postgresql", "sqlite"):
        # A report from a fallback layer shows less than the file may (only what this
        # machine saw); during an outage the file is kept by the queued writes instead.
        kept = "the status file was not written: the database is unavailable"
        return report.model_copy(update={"warnings": [*(report.warnings or []), kept]})
    path = paths.status_file(app.settings)
    await asyncio.to_thread(_write, app.settings, path, report.markdown)
    return report.model_copy(update={"path": str(path)})


def _write(settings: Settings, path: Path, markdown: str) -> None:
    """Write the file under its lock, kept in the state folder (created if need be)."""
    lock = files.lock_path(path, paths.prepare_home(settings))
    files.write_atomically(path, markdown, lock=lock)
