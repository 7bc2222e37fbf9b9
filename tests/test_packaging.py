"""A real (not editable) install ships the migrations and runs the command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_installs_a_working_command_with_its_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    wheel = next((tmp_path / "dist").glob("worktrack-*.whl"))
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    assert (target / "worktrack" / "_alembic" / "env.py").is_file()
    assert list((target / "worktrack" / "_alembic" / "versions").glob("0001_*.py"))
    web = target / "worktrack" / "web"
    shipped = {p.relative_to(web).as_posix() for p in web.rglob("*") if p.is_file()}
    source = ROOT / "src" / "worktrack" / "web"
    for folder in ("templates", "static"):  # the board's page needs every one of them
        for path in (source / folder).iterdir():
            assert f"{folder}/{path.name}" in shipped, path

    # Not measured by coverage: this runs the installed copy, not src/worktrack.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")}
    env |= {"PYTHONPATH": str(target), "WORKTRACK_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-m", "worktrack", "migrate"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "home" / "worktrack.db").is_file()
    where = subprocess.run(
        [sys.executable, "-c", "import worktrack.migrations as m; print(m.script_location())"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(target / "worktrack" / "_alembic")
