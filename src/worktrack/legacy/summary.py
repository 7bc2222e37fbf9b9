"""The import's result as text for a person at a terminal (``--json`` prints it whole)."""

from __future__ import annotations

import json

from worktrack.models.legacy import ImportResult

_SHOWN_NAMES = 5


def describe(result: ImportResult) -> str:
    lines = [_headline(result), "reconciliation (source / migrated):"]
    for name, check in result.reconciliation:
        mark = "ok" if check.match else "MISMATCH"
        lines.append(f"  {name:<22} {check.source:>6} / {check.migrated:<6} {mark}")
    lines.append(f"data preserved: {result.data_preservation_percentage} %")
    if result.skipped:
        lines.append("skipped files:")
        lines += [f"  {skipped.file}: {skipped.reason}" for skipped in result.skipped]
    if result.defaults_applied:
        lines.append("defaults applied (values the file lacks):")
        for default in result.defaults_applied:
            names = default.applied_to
            shown = ", ".join(names[:_SHOWN_NAMES])
            more = f" and {len(names) - _SHOWN_NAMES} more" if len(names) > _SHOWN_NAMES else ""
            value = json.dumps(default.value, ensure_ascii=False)
            lines.append(f"  {default.entity} {default.field} = {value}: {shown}{more}")
    if result.errors:
        lines.append("errors:")
        lines += [f"  {error}" for error in result.errors]
    return "\n".join(lines)


def _headline(result: ImportResult) -> str:
    if not result.success:
        undone = "rolled back, " if result.rollback_executed else ""
        return f"import failed: {undone}nothing was written"
    if result.dry_run:
        return "dry run: the import would succeed; nothing was written"
    return "import succeeded"
