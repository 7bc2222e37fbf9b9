"""Runtime settings, read once from the environment (``WORKTRACK_`` prefix) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Toolset = Literal[
    "work_items", "vendors", "deployments", "configuration", "enhancements", "reports", "admin"
]
TOOLSETS: tuple[Toolset, ...] = get_args(Toolset)
MIN_HTTP_TOKEN_LENGTH = 32  # shorter tokens work, with a warning


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WORKTRACK_", env_file=".env", extra="ignore", populate_by_name=True
    )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("WORKTRACK_DATABASE_URL", "DATABASE_URL"),
    )
    home: Path | None = None
    repo: Path = Field(default_factory=Path.cwd)
    status_file: Path | None = None
    cache_ttl_minutes: float = Field(default=30, gt=0)
    actor: str | None = Field(default=None, max_length=100)
    toolsets: Annotated[tuple[Toolset, ...], NoDecode] = TOOLSETS
    read_only: bool = False
    # HTTP transport (worktrack serve --http): the shared bearer token (a secret: never
    # shown in a repr or a log), the extra Host names and browser Origins to accept besides
    # loopback and the bound address, and the per-client request rate (0 turns it off).
    http_token: SecretStr | None = None
    http_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    http_allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    http_rate_limit: float = Field(default=20.0, ge=0)
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    statement_timeout_seconds: float = Field(default=5.0, gt=0)
    # While Postgres is down: how long calls skip it before trying again, and how often the
    # server looks for it in the background to replay queued writes (contract: ≤ 30 s).
    retry_seconds: float = Field(default=5.0, ge=0)
    sync_interval_seconds: float = Field(default=10.0, gt=0, le=30)
    # With a Postgres primary: how often the local replica is brought up to date.
    cache_sync_seconds: float = Field(default=60.0, gt=0)
    # How often a running server asks whether the day's archive run is due (0: never).
    archive_check_seconds: float = Field(default=3600, ge=0)

    @field_validator("toolsets", mode="before")
    @classmethod
    def _split_toolsets(cls, value: object) -> object:
        if isinstance(value, str):
            names = [part.strip() for part in value.split(",") if part.strip()]
            return TOOLSETS if names in ([], ["all"]) else tuple(names)
        return value

    @field_validator("http_allowed_hosts", "http_allowed_origins", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @property
    def home_dir(self) -> Path:
        return (self.home or self.repo / ".worktrack").resolve()

    @property
    def status_path(self) -> Path:
        return (self.status_file or self.repo / ".project_status.md").resolve()

    @property
    def cache_path(self) -> Path:
        """The local replica and write queue used while a Postgres primary is unreachable."""
        return self.home_dir / "cache.db"

    @property
    def cache_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.cache_path}"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.home_dir / 'worktrack.db'}"

    @property
    def uses_postgres(self) -> bool:
        return self.effective_database_url.startswith("postgresql")
