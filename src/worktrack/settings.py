"""Runtime settings, read once from the environment: ``WORKTRACK_``-prefixed variables only.

No ``.env`` file and no unprefixed variable (``DATABASE_URL``) is read. An MCP client starts
the server inside the repository being worked on, and that repository must not decide where
worktrack writes or which database it opens. A bad value is a ``pydantic.ValidationError``;
``problems`` turns one into lines that name the variable, never echoing its value.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, get_args

import pydantic
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

Toolset = Literal[
    "work_items", "vendors", "deployments", "configuration", "enhancements", "reports", "admin"
]
TOOLSETS: tuple[Toolset, ...] = get_args(Toolset)
# Shorter tokens are refused on an address other than loopback, and warned about on it.
MIN_HTTP_TOKEN_LENGTH = 32
DRIVERS = ("postgresql+asyncpg", "sqlite+aiosqlite")
MASK = "***"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WORKTRACK_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str | None = Field(default=None, repr=False)  # may hold a password
    home: Path | None = None
    repo: Path = Field(default_factory=Path.cwd)
    status_file: Path | None = None
    cache_ttl_minutes: float = Field(default=30, gt=0)
    actor: str | None = Field(default=None, max_length=100)
    toolsets: Annotated[tuple[Toolset, ...], NoDecode] = TOOLSETS
    read_only: bool = False
    # HTTP transport (worktrack serve --http): the shared bearer token (a secret: never
    # shown in a repr or a log), the extra Host names and browser Origins to accept besides
    # loopback and the bound address, the per-client request rate (0 turns it off) and how
    # long a client may take to send a request body.
    http_token: SecretStr | None = None
    http_allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    http_allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    http_rate_limit: float = Field(default=20.0, ge=0)
    http_body_timeout_seconds: float = Field(default=30.0, gt=0)
    connect_timeout_seconds: float = Field(default=2.0, gt=0)
    statement_timeout_seconds: float = Field(default=5.0, gt=0)
    # Bulk work (export, import, import-legacy, archive) runs its statements on an engine
    # of its own with this limit: at 100,000 rows they take longer than an interactive call.
    bulk_statement_timeout_seconds: float = Field(default=600.0, gt=0)
    # While Postgres is down: how long calls skip it before trying again, and how often the
    # server looks for it in the background to replay queued writes (contract: ≤ 30 s).
    retry_seconds: float = Field(default=5.0, ge=0)
    sync_interval_seconds: float = Field(default=10.0, gt=0, le=30)
    # With a Postgres primary: how often the local replica is brought up to date.
    cache_sync_seconds: float = Field(default=60.0, gt=0)
    # How often a running server asks whether the day's archive run is due (0: never).
    archive_check_seconds: float = Field(default=3600, ge=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments and the environment only: never a .env file or a secrets directory.
        return (init_settings, env_settings)

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            driver = make_url(value).drivername
        except ArgumentError:
            driver = None
        if driver not in DRIVERS:  # the message never repeats the URL: it may hold a password
            raise ValueError(
                "must be a postgresql+asyncpg://… or sqlite+aiosqlite:///… URL"
                + (f", not {driver}://…" if driver else "")
            )
        return value

    @field_validator("repo")
    @classmethod
    def _filled_in(cls, value: Path) -> Path:
        if "${" in str(value):  # e.g. ${workspaceFolder} from a client that does not expand it
            raise ValueError(
                f"{value} holds a placeholder the MCP client did not fill in; set it to the "
                "repository's path"
            )
        return value

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
    def default_home(self) -> bool:
        """True when the state folder is the repository's own ``.worktrack``."""
        return self.home is None

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


def problems(error: pydantic.ValidationError) -> list[str]:
    """One line per bad setting, naming its variable and the rule (never the value)."""
    lines = []
    for problem in error.errors(include_url=False, include_input=False):
        variable = f"WORKTRACK_{str(problem['loc'][0]).upper()}" if problem["loc"] else "settings"
        lines.append(f"{variable}: {problem['msg'].removeprefix('Value error, ')}")
    return lines


_QUERY_SECRET = re.compile(r"(?<=[?&])([^=&#]*password[^=&#]*)=[^&#]*", re.IGNORECASE)


def _password_keys(query: dict[str, object]) -> list[str]:
    return [key for key in query if "password" in key.lower()]


def shown_url(url: str) -> str:
    """``url`` fit to print: a password (user-info or any ``*password*`` query parameter)
    shown as ``***``; a URL that cannot be parsed is not shown at all."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "(a URL that cannot be parsed)"
    return _QUERY_SECRET.sub(rf"\1={MASK}", parsed.render_as_string(hide_password=True))


def url_without_password(url: str) -> tuple[str, bool]:
    """``url`` with every password left out, and whether there was one to leave out."""
    parsed = make_url(url)
    secret_keys = _password_keys(dict(parsed.query))
    had = parsed.password is not None or bool(secret_keys)
    # URL.set(password=None) would keep it; _replace is the namedtuple's own copy.
    bare = parsed._replace(password=None).difference_update_query(secret_keys)
    return bare.render_as_string(hide_password=False), had
