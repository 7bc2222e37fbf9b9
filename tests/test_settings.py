from __future__ import annotations

from pathlib import Path

import pytest

from worktrack.settings import TOOLSETS, Settings


def test_defaults_follow_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("WORKTRACK_DATABASE_URL", "DATABASE_URL", "WORKTRACK_HOME"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.home_dir == tmp_path / ".worktrack"
    assert settings.status_path == tmp_path / ".project_status.md"
    assert (
        settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path}/.worktrack/worktrack.db"
    )
    assert not settings.uses_postgres
    assert settings.toolsets == TOOLSETS and settings.read_only is False
    assert settings.cache_ttl_minutes == 30


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("WORKTRACK_TOOLSETS", "work_items, vendors")
    monkeypatch.setenv("WORKTRACK_READ_ONLY", "true")
    monkeypatch.setenv("WORKTRACK_HOME", str(tmp_path / "state"))
    settings = Settings()
    assert settings.uses_postgres and settings.effective_database_url.endswith("/db")
    assert settings.toolsets == ("work_items", "vendors") and settings.read_only
    assert settings.home_dir == tmp_path / "state"
    monkeypatch.setenv("WORKTRACK_TOOLSETS", "all")
    assert Settings().toolsets == TOOLSETS


def test_unknown_toolset_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKTRACK_TOOLSETS", "work_items,sprints")
    with pytest.raises(ValueError, match="toolsets"):
        Settings()
