"""Administration results."""

from __future__ import annotations

from worktrack.models.common import Envelope


class ArchiveResult(Envelope):
    """The work items moved to the archive (or that would move, on a dry run), deepest first."""

    archived_count: int
    ids: list[str]
