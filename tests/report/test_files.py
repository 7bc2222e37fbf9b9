"""The status file on disk: atomic replacement, one writer at a time across processes."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from filelock import FileLock

from worktrack.errors import UnavailableError
from worktrack.report import files
from worktrack.report.parse import parse

import file_workers

WORKER = str(Path(__file__).with_name("file_workers.py"))


def test_write_read_and_modes(tmp_path: Path) -> None:
    path = tmp_path / "nested" / ".project_status.md"
    assert files.read(path) is None
    files.write_atomically(path, "first ✓\n")
    assert files.read(path) == "first ✓\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's private 0600
    path.chmod(0o664)
    files.write_atomically(path, "second\n")
    assert path.read_text(encoding="utf-8") == "second\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o664  # an existing file keeps its mode
    assert files.stray_temps(path) == []
    assert files.lock_path(path).exists() and sorted(p.name for p in path.parent.iterdir()) == [
        ".project_status.md",
        ".project_status.md.lock",
    ]


def test_a_held_lock_times_out_as_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "status.md"
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with FileLock(files.lock_path(path)):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(10)
        with pytest.raises(UnavailableError, match="stayed locked"):
            files.update(path, lambda _: "never", timeout=0.2)
    finally:
        release.set()
        holder.join()
    assert files.read(path) is None


def test_a_failing_change_leaves_the_file_and_no_temp_behind(tmp_path: Path) -> None:
    path = tmp_path / "status.md"
    files.write_atomically(path, "kept\n")

    def boom(_: str | None) -> str:
        raise ValueError("no")

    with pytest.raises(ValueError):
        files.update(path, boom)
    assert files.read(path) == "kept\n" and files.stray_temps(path) == []


def _spawn(*args: str) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [sys.executable, WORKER, *args], stdout=subprocess.PIPE, text=True, cwd=Path(WORKER).parent
    )
    assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
    return worker


def _close(worker: subprocess.Popen[str]) -> None:
    assert worker.stdout is not None
    worker.stdout.close()


def _race(tmp_path: Path, mode: str, rounds: int = 50, workers: int = 4) -> list[int]:
    """``workers`` processes each bump their own vendor ``rounds`` times; the final counts."""
    path, go = tmp_path / f"{mode}.md", tmp_path / f"{mode}.go"
    files.write_atomically(path, file_workers.report([0] * workers))
    running = [
        _spawn("bump", str(path), str(n), str(rounds), str(go), mode) for n in range(workers)
    ]
    go.touch()  # everyone starts at once
    for worker in running:
        assert worker.wait(timeout=120) == 0
        _close(worker)
    text = files.read(path)
    assert text is not None
    return file_workers.passing_counts(text)


@pytest.mark.slow
def test_g1_locked_read_modify_write_loses_no_update(tmp_path: Path) -> None:
    assert _race(tmp_path, "locked") == [50, 50, 50, 50]


@pytest.mark.slow
def test_g1_negative_control_without_the_lock_loses_updates(tmp_path: Path) -> None:
    counts = _race(tmp_path, "unlocked")
    assert sum(counts) < 200, counts  # the same race without the lock: the test can fail


@pytest.mark.slow
def test_g2_a_killed_writer_leaves_old_or_new_content_and_its_temp_is_cleaned(
    tmp_path: Path,
) -> None:
    path = tmp_path / "status.md"
    vendors = 3000  # about 400 kB: each write takes a while
    versions = file_workers.churned(vendors)
    initial = file_workers.report([0] * vendors)
    sources = [tmp_path / "a.md", tmp_path / "b.md"]
    for source, text in zip(sources, versions, strict=True):
        source.write_text(text, encoding="utf-8")
    files.write_atomically(path, initial)
    seen = {initial: 0, versions[0]: 0, versions[1]: 0}
    interrupted = 0
    rng = random.Random(20261122)
    for _ in range(50):
        writer = _spawn("churn", str(path), *map(str, sources))
        time.sleep(rng.uniform(0, 0.05))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
        _close(writer)
        text = files.read(path)
        assert text in seen, "torn file"  # complete old or new content, never a mix
        seen[text] += 1
        interrupted += bool(files.stray_temps(path))  # killed between temp file and rename
        files.write_atomically(path, text)  # the next write (lock free again after the kill)
        assert files.stray_temps(path) == []
    assert interrupted > 0, "no kill landed inside a write: the test proved nothing"
    assert seen[versions[0]] + seen[versions[1]] > 0
    assert all(parse(text).errors == [] for text in seen)  # and each of them parses
