"""worktrack over streamable HTTP (``worktrack serve --http``): who may bind where, the
bearer token, and which Host and Origin headers are answered.

- It binds 127.0.0.1 unless told otherwise. A bearer token (``WORKTRACK_HTTP_TOKEN``) is
  required on every request to ``/mcp``; ``--no-auth`` is accepted only on a loopback
  address, and any other bind without a token refuses to start.
- The token is checked by FastMCP's own auth (a ``TokenVerifier``), compared in constant
  time, kept as a ``SecretStr`` and never logged.
- DNS rebinding: a request whose Host names anything but loopback, the address it arrived
  on or a configured name (``WORKTRACK_HTTP_ALLOWED_HOSTS``) gets 403 before anything
  else runs; FastMCP's Host/Origin guard (off by default in FastMCP, switched on here in
  strict mode) then answers 403 to a foreign ``Origin``.
- Bodies over ``MAX_BODY_BYTES`` get 413 unread; each client address may make
  ``WORKTRACK_HTTP_RATE_LIMIT`` requests a second (bursts of five seconds' worth).
"""

from __future__ import annotations

import hmac
import logging
from ipaddress import ip_address
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from fastmcp import FastMCP
from fastmcp.server.auth import TokenVerifier
from fastmcp.server.auth.auth import AccessToken
from fastmcp.server.dependencies import get_http_request
from fastmcp.server.middleware import MiddlewareContext
from fastmcp.server.middleware.rate_limiting import RateLimitingMiddleware
from mcp.server.transport_security import RequestBodyLimitMiddleware
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from worktrack.settings import MIN_HTTP_TOKEN_LENGTH, Settings

PATH = "/mcp"
MAX_BODY_BYTES = 4 * 1_048_576  # above the 1 MiB argument limit, so that one answers first
BURST_SECONDS = 5
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")


class RefusedToStart(Exception):
    """The HTTP server will not start as asked; the message says why and what to do."""


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: SecretStr | None, no_auth: bool) -> list[str]:
    """Refuse an unsafe combination; return warnings for a safe but weak one."""
    if no_auth and not is_loopback(host):
        raise RefusedToStart(
            f"--no-auth is allowed only on a loopback address (127.0.0.1, ::1, localhost), "
            f"not {host}; set WORKTRACK_HTTP_TOKEN instead"
        )
    if no_auth:
        return []
    if token is None or not token.get_secret_value():
        where = (
            "a loopback address" if is_loopback(host) else f"{host}, reachable from the network,"
        )
        raise RefusedToStart(
            f"refusing to serve HTTP on {where} without a token: set WORKTRACK_HTTP_TOKEN "
            "(for example to the output of `python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`)"
            + (" or pass --no-auth" if is_loopback(host) else "")
        )
    if len(token.get_secret_value()) < MIN_HTTP_TOKEN_LENGTH:
        short = f"WORKTRACK_HTTP_TOKEN is shorter than {MIN_HTTP_TOKEN_LENGTH} characters"
        return [f"{short}; use a long random one"]
    return []


class SharedTokenVerifier(TokenVerifier):
    """Accepts exactly one bearer token, compared in constant time."""

    def __init__(self, token: SecretStr) -> None:
        super().__init__()
        self._expected = token.get_secret_value().encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if not hmac.compare_digest(token.encode(), self._expected):
            return None
        return AccessToken(token=token, client_id="worktrack-http", scopes=[])


def _host_name(header: str) -> str | None:
    try:
        return urlsplit(f"//{header}").hostname
    except ValueError:
        return None


class HostGuard:
    """403 for a Host header naming anything but an allowed host (DNS rebinding)."""

    def __init__(self, app: ASGIApp, allowed_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = {name.strip("[]").lower() for name in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._allowed(scope):
            await PlainTextResponse("Forbidden Host", status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        name = _host_name(Headers(scope=scope).get("host", ""))
        arrived_on = (scope.get("server") or ("",))[0]
        return name is not None and (name in self.allowed or name == str(arrived_on).lower())


def allowed_hosts(settings: Settings, host: str) -> tuple[str, ...]:
    bound = () if host in ("0.0.0.0", "::", "") else (host,)
    return (*LOOPBACK_NAMES, *bound, *settings.http_allowed_hosts)


def _client_address(context: MiddlewareContext[Any]) -> str:
    try:
        client = get_http_request().client
    except RuntimeError:
        return "local"
    return client.host if client else "unknown"


def http_app(mcp: FastMCP, settings: Settings, host: str, *, no_auth: bool) -> ASGIApp:
    """The ASGI app: Host check, then FastMCP's Origin guard, auth, limits and MCP."""
    check_bind(host, settings.http_token, no_auth)
    if not no_auth and settings.http_token is not None:
        mcp.auth = SharedTokenVerifier(settings.http_token)
    if settings.http_rate_limit > 0:
        limiter = RateLimitingMiddleware(
            max_requests_per_second=settings.http_rate_limit,
            burst_capacity=max(1, int(settings.http_rate_limit * BURST_SECONDS)),
            get_client_id=_client_address,
        )
        mcp.middleware.insert(0, limiter)  # outermost: a flood is refused before any work
    hosts = allowed_hosts(settings, host)
    app = mcp.http_app(
        path=PATH,
        host_origin_protection=True,
        allowed_hosts=list(hosts),
        allowed_origins=list(settings.http_allowed_origins),
    )
    return HostGuard(RequestBodyLimitMiddleware(app, MAX_BODY_BYTES), hosts)


class _WithoutQuery(logging.Filter):
    """Access-log lines without the query string: a client that puts its token in the URL
    must not have it written to the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, target, version, status = record.args
            record.args = (client, method, str(target).split("?", 1)[0], version, status)
        return True


def serve(mcp: FastMCP, settings: Settings, host: str, port: int, *, no_auth: bool) -> None:
    """Run until interrupted. Uvicorn logs the address (with the real port if 0 was asked)."""
    config = uvicorn.Config(
        http_app(mcp, settings, host, no_auth=no_auth),
        host=host,
        port=port,
        lifespan="on",
        log_level="info",
        timeout_graceful_shutdown=2,
    )
    logging.getLogger("uvicorn.access").addFilter(_WithoutQuery())  # after Config set logging up
    uvicorn.Server(config).run()
