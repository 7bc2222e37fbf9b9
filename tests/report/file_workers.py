"""Processes that write the status file while a test watches (run as a script).

    file_workers.py bump PATH VENDOR_NO ROUNDS GO_FILE locked|unlocked
        ROUNDS read-modify-write cycles, each adding 1 to one vendor's passing count.
    file_workers.py churn PATH SOURCE...
        write the sources' contents to PATH in turn, forever (until killed).
Each prints "ready" once set up; bump waits for GO_FILE so all workers start together.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from worktrack.report import files, render
from worktrack.report.model import Snapshot, Vendor
from worktrack.report.parse import parse

GENERATED = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def vendor_id(number: int) -> str:
    return f"30000000-0000-4000-8000-{number:012d}"


def report(passing: list[int]) -> str:
    """A status file with one vendor per worker, its passing count as given."""
    vendors = [
        Vendor(vendor_id(n), 1, f"vendor {n}", "operational", count, 10**6, 0, ("csv",), "1")
        for n, count in enumerate(passing)
    ]
    empty = Snapshot(vendors=vendors, work_items=[], deployments=[], enhancements=[])
    return render.render(empty, GENERATED)


def passing_counts(text: str) -> list[int]:
    parsed = parse(text)
    assert parsed.errors == [], parsed.errors
    return [vendor.passing or 0 for vendor in parsed.vendors]


def lock_of(path: Path) -> Path:
    """The writer lock every process uses for ``path``: in a state folder beside it."""
    return files.lock_path(path, path.parent / "state")


def _bumped(text: str | None, number: int) -> str:
    counts = passing_counts(text or "")
    counts[number] += 1
    return report(counts)


def bump(path: Path, number: int, rounds: int, go: Path, locked: bool) -> None:
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.001)
    for _ in range(rounds):
        if locked:
            files.update(path, lambda text: _bumped(text, number), lock=lock_of(path))
        else:
            # The negative control: the same cycle, but the read is not under the lock.
            text = files.read(path)
            time.sleep(0.001)  # what any real work between read and write would take
            files.write_atomically(path, _bumped(text, number), lock=lock_of(path))


def churn(path: Path, sources: list[Path]) -> None:
    contents = [source.read_text(encoding="utf-8") for source in sources]
    print("ready", flush=True)
    n = 0
    while True:
        files.write_atomically(path, contents[n % 2], lock=lock_of(path))
        n += 1


def churned(vendors: int) -> tuple[str, str]:
    """The two reports ``churn`` alternates between: every vendor at 1, then every one at 2."""
    return report([1] * vendors), report([2] * vendors)


if __name__ == "__main__":
    mode, target, *rest = sys.argv[1:]
    if mode == "bump":
        bump(Path(target), int(rest[0]), int(rest[1]), Path(rest[2]), rest[3] == "locked")
    else:
        churn(Path(target), [Path(source) for source in rest])
