"""Settings come from ``WORKTRACK_`` variables in the environment and nowhere else: not a
``.env`` file, not ``DATABASE_URL`` (the repository being worked on must not steer
worktrack). Bad values name their variable, never echo the value, and URLs are shown
with every password masked."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from worktrack.settings import (
    TOOLSETS,
    Settings,
    problems,
    shown_url,
    url_without_password,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WORKTRACK_DATABASE_URL", "DATABASE_URL", "WORKTRACK_HOME", "WORKTRACK_REPO"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_follow_the_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.home_dir == tmp_path / ".worktrack" and settings.default_home
    assert settings.status_path == tmp_path / ".project_status.md"
    assert (
        settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path}/.worktrack/worktrack.db"
    )
    assert not settings.uses_postgres
    assert settings.toolsets == TOOLSETS and settings.read_only is False
    assert settings.cache_ttl_minutes == 30


def test_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WORKTRACK_DATABASE_URL", "postgresql+asyncpg://u@h/db")
    monkeypatch.setenv("WORKTRACK_TOOLSETS", "work_items, vendors")
    monkeypatch.setenv("WORKTRACK_READ_ONLY", "true")
    monkeypatch.setenv("WORKTRACK_HOME", str(tmp_path / "state"))
    settings = Settings()
    assert settings.uses_postgres and settings.effective_database_url.endswith("/db")
    assert settings.toolsets == ("work_items", "vendors") and settings.read_only
    assert settings.home_dir == tmp_path / "state" and not settings.default_home
    monkeypatch.setenv("WORKTRACK_TOOLSETS", "all")
    assert Settings().toolsets == TOOLSETS


def test_a_dotenv_file_and_unprefixed_variables_are_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "WORKTRACK_DATABASE_URL=postgresql+asyncpg://attacker@evil.example/db\n"
        f"WORKTRACK_HOME={tmp_path.parent}\n"
        "WORKTRACK_STATUS_FILE=/etc/passwd\n"
        "WORKTRACK_TOOLSETS=sprints\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://app:secret@app-db/app")
    settings = Settings()
    assert settings.database_url is None and not settings.uses_postgres
    assert settings.home_dir == tmp_path / ".worktrack"
    assert settings.status_path == tmp_path / ".project_status.md"
    assert settings.toolsets == TOOLSETS
    assert Settings(_env_file=tmp_path / ".env").database_url is None  # type: ignore[call-arg]


def test_unknown_toolset_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKTRACK_TOOLSETS", "work_items,sprints")
    with pytest.raises(pydantic.ValidationError) as refused:
        Settings()
    assert problems(refused.value) == [
        "WORKTRACK_TOOLSETS: Input should be 'work_items', 'vendors', 'deployments', "
        "'configuration', 'enhancements', 'reports' or 'admin'"
    ]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://root:hunter2@db/app", "not mysql://…"),
        ("postgresql://root:hunter2@db/app", "not postgresql://…"),
        ("not a url hunter2", "must be a postgresql+asyncpg://… or sqlite+aiosqlite:///… URL"),
    ],
)
def test_a_database_url_of_another_driver_is_refused_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, url: str, says: str
) -> None:
    monkeypatch.setenv("WORKTRACK_DATABASE_URL", url)
    with pytest.raises(pydantic.ValidationError) as refused:
        Settings()
    (line,) = problems(refused.value)
    assert line.startswith("WORKTRACK_DATABASE_URL: ") and says in line
    assert "hunter2" not in line and "hunter2" not in str(refused.value)


def test_a_placeholder_the_client_did_not_fill_in_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        Settings(repo=Path("${workspaceFolder}"))
    assert "did not fill in" in problems(refused.value)[0]


SECRET_URLS = [
    "postgresql+asyncpg://bob:hunter2@db:5432/wt",
    "postgresql+asyncpg://bob@db:5432/wt?password=hunter2",
    "postgresql+asyncpg://bob@db:5432/wt?ssl=require&PASSWORD=hunter2&sslpassword=hunter2",
    "postgresql+asyncpg://bob:hunter2@db/wt?password=hunter2&password=hunter2",
]


@pytest.mark.parametrize("url", SECRET_URLS)
def test_every_password_form_is_masked_or_left_out(url: str) -> None:
    shown = shown_url(url)
    assert "hunter2" not in shown and "***" in shown and shown.startswith("postgresql+asyncpg://")
    bare, had = url_without_password(url)
    assert had and "hunter2" not in bare and "***" not in bare
    assert bare.startswith("postgresql+asyncpg://bob@db")
    assert "hunter2" not in repr(Settings(database_url=url))


def test_urls_without_a_password_are_shown_as_they_are() -> None:
    plain = "postgresql+asyncpg://bob@db:5432/wt?ssl=require"
    assert shown_url(plain) == plain
    assert url_without_password(plain) == (plain, False)
    assert shown_url("::not parseable::hunter2") == "(a URL that cannot be parsed)"
