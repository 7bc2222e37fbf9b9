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
    lock = files.lock_path(path, tmp_path / "home")
    assert files.read(path) is None
    files.write_atomically(path, "first ✓\n", lock=lock)
    assert files.read(path) == "first ✓\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's private 0600
    path.chmod(0o664)
    files.write_atomically(path, "second\n", lock=lock)
    assert path.read_text(encoding="utf-8") == "second\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o664  # an existing file keeps its mode
    assert files.stray_temps(path) == []
    # The lock lives in the state folder; nothing but the file is left beside it.
    assert [p.name for p in path.parent.iterdir()] == [".project_status.md"]
    assert lock.exists() and lock.parent == tmp_path / "home" / "locks"


def test_each_file_has_its_own_lock_and_every_process_finds_the_same(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first, second = tmp_path / "a" / "status.md", tmp_path / "b" / "status.md"
    assert files.lock_path(first, home) == files.lock_path(first, home)
    assert files.lock_path(first, home) != files.lock_path(second, home)
    assert files.lock_path(first, home).name.startswith("status.md.")


@pytest.mark.parametrize("kind", ["directory", "symlink", "dangling-symlink"])
def test_a_lock_path_that_cannot_be_a_lock_is_a_clear_error(tmp_path: Path, kind: str) -> None:
    path, target = tmp_path / "status.md", tmp_path / "precious"
    target.write_text("keep me\n")
    lock = files.lock_path(path, tmp_path / "home")
    lock.parent.mkdir(parents=True)
    if kind == "directory":
        lock.mkdir()
    else:
        lock.symlink_to(target if kind == "symlink" else tmp_path / "missing")
    with pytest.raises(UnavailableError) as refused:
        files.write_atomically(path, "report\n", lock=lock)
    shown = "a directory" if kind == "directory" else "a symlink"
    assert refused.value.message == (
        f"cannot write {path}: cannot take its lock {lock}: it is {shown}; remove it "
        "(worktrack makes a new lock file)"
    )
    assert target.read_text() == "keep me\n" and not path.exists()
    assert not (tmp_path / "missing").exists()


def test_a_held_lock_times_out_as_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "status.md"
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with FileLock(file_workers.lock_of(path)):
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(10)
        with pytest.raises(UnavailableError, match="stayed locked"):
            files.update(path, lambda _: "never", lock=file_workers.lock_of(path), timeout=0.2)
    finally:
        release.set()
        holder.join()
    assert files.read(path) is None


def test_a_failing_change_leaves_the_file_and_no_temp_behind(tmp_path: Path) -> None:
    path = tmp_path / "status.md"
    files.write_atomically(path, "kept\n", lock=file_workers.lock_of(path))

    def boom(_: str | None) -> str:
        raise ValueError("no")

    with pytest.raises(ValueError):
        files.update(path, boom, lock=file_workers.lock_of(path))
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
    files.write_atomically(
        path, file_workers.report([0] * workers), lock=file_workers.lock_of(path)
    )
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
    files.write_atomically(path, initial, lock=file_workers.lock_of(path))
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
        # the next write (lock free again after the kill)
        files.write_atomically(path, text, lock=file_workers.lock_of(path))
        assert files.stray_temps(path) == []
    assert interrupted > 0, "no kill landed inside a write: the test proved nothing"
    assert seen[versions[0]] + seen[versions[1]] > 0
    assert all(parse(text).errors == [] for text in seen)  # and each of them parses
