"""worktrack over streamable HTTP (``worktrack serve --http``): who may bind where, the
bearer token, which Host and Origin headers are answered, and what an unauthenticated
client can cost the server (nothing but a refused request).

- It binds 127.0.0.1 unless told otherwise. A bearer token (``WORKTRACK_HTTP_TOKEN``) is
  required on every request; ``--no-auth`` is accepted only on a loopback address, any
  other bind without a token refuses to start, and so does one with a token shorter than
  ``MIN_HTTP_TOKEN_LENGTH`` characters.
- Before any request reaches FastMCP, a chain of small ASGI gates answers it from the
  request line and headers alone, never reading the body, and closes the connection:
  ``RateLimit`` (429 with ``Retry-After``: each client address may make
  ``WORKTRACK_HTTP_RATE_LIMIT`` requests a second, bursts of five seconds' worth, failed
  authentications included), ``HostGuard`` (403 for a Host naming anything but loopback,
  the address it arrived on or ``WORKTRACK_HTTP_ALLOWED_HOSTS``: DNS rebinding),
  ``TokenGate`` (401 without the token, compared in constant time). Only then does
  ``BodyReader`` read the body: at most ``MAX_BODY_BYTES`` (413) within
  ``WORKTRACK_HTTP_BODY_TIMEOUT_SECONDS`` (408).
- FastMCP then checks the token again (its own ``TokenVerifier``) and the Origin (its
  Host/Origin guard, off by default in FastMCP, switched on here in strict mode).
- Uvicorn caps open connections at ``MAX_CONNECTIONS`` (503 beyond) and closes idle
  keep-alive connections after ``KEEP_ALIVE_SECONDS``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import re
import time
from collections.abc import Callable
from ipaddress import ip_address
from urllib.parse import urlsplit

import uvicorn
from fastmcp import FastMCP
from fastmcp.server.auth import TokenVerifier
from fastmcp.server.auth.auth import AccessToken
from pydantic import SecretStr
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worktrack.limits import MAX_ARGUMENT_BYTES
from worktrack.settings import MIN_HTTP_TOKEN_LENGTH, Settings

PATH = "/mcp"
BOARD_PATH = "/board"
BOARD_BODY_BYTES = 4_096  # the board takes one form: the token
# The largest legal call: 1 MiB of arguments as JSON plus the JSON-RPC envelope around them.
MAX_BODY_BYTES = MAX_ARGUMENT_BYTES + 65_536
MAX_CONNECTIONS = 100
KEEP_ALIVE_SECONDS = 5
BURST_SECONDS = 5
MAX_TRACKED_CLIENTS = 10_000
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")
_TOKEN_RECIPE = "`python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"


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
            f"(for example to the output of {_TOKEN_RECIPE})"
            + (" or pass --no-auth" if is_loopback(host) else "")
        )
    if len(token.get_secret_value()) < MIN_HTTP_TOKEN_LENGTH:
        short = f"WORKTRACK_HTTP_TOKEN is shorter than {MIN_HTTP_TOKEN_LENGTH} characters"
        if not is_loopback(host):
            raise RefusedToStart(
                f"refusing to serve HTTP on {host}, reachable from the network: {short}; "
                f"use a random one: {_TOKEN_RECIPE}"
            )
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


async def refuse(
    send: Send, status: int, text: str, headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    """Answer without reading the body, and close the connection: whatever the client
    still sends is dropped with it, never buffered."""
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RateLimit:
    """429 with ``Retry-After`` for a client address past its rate: a token bucket per
    address, refilled at ``per_second``, holding at most ``burst`` requests. Every request
    counts, refused ones included, so wrong tokens are throttled like anything else."""

    def __init__(
        self,
        app: ASGIApp,
        per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.per_second = per_second
        self.burst = float(burst)
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}  # address -> (tokens, when)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            wait = self.take(str((scope.get("client") or ("unknown",))[0]))
            if wait > 0:
                retry = (b"retry-after", str(math.ceil(wait)).encode())
                await refuse(send, 429, "Too Many Requests", (retry,))
                return
        await self.app(scope, receive, send)

    def take(self, address: str) -> float:
        """Spend one request of ``address``'s; 0, or the seconds until it may ask again."""
        now = self.clock()
        tokens, then = self.buckets.get(address, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.per_second)
        if len(self.buckets) >= MAX_TRACKED_CLIENTS:
            self._forget_idle(now)
        if tokens >= 1:
            self.buckets[address] = (tokens - 1, now)
            return 0.0
        self.buckets[address] = (tokens, now)
        return (1 - tokens) / self.per_second

    def _forget_idle(self, now: float) -> None:
        """Drop the clients whose bucket has refilled: they are where a new one starts."""
        full = self.burst / self.per_second
        for address, (_tokens, then) in list(self.buckets.items()):
            if now - then >= full:
                del self.buckets[address]


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
            await refuse(send, 403, "Forbidden Host")
            return
        await self.app(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        name = _host_name(Headers(scope=scope).get("host", ""))
        arrived_on = (scope.get("server") or ("",))[0]
        return name is not None and (name in self.allowed or name == str(arrived_on).lower())


class TokenGate:
    """401 for a request without ``Authorization: Bearer <token>``, decided on the
    headers alone: the body of a request without the token is never read."""

    CHALLENGE = (
        b"www-authenticate",
        b'Bearer error="invalid_token", error_description="a valid bearer token is required"',
    )

    def __init__(self, app: ASGIApp, token: SecretStr) -> None:
        self.app = app
        self._expected = token.get_secret_value().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._carries_token(scope):
            await refuse(send, 401, "Unauthorized", (self.CHALLENGE,))
            return
        await self.app(scope, receive, send)

    def _carries_token(self, scope: Scope) -> bool:
        given = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        scheme, _, token = bytes(given).partition(b" ")
        # Both sides are compared whatever the scheme, so timing tells nothing either way.
        matches = hmac.compare_digest(token, self._expected)
        return scheme.lower() == b"bearer" and matches


class BodyReader:
    """Read the whole body before the app runs: 413 past ``limit`` bytes (declared or
    sent), 408 when it takes longer than ``timeout`` seconds."""

    def __init__(self, app: ASGIApp, limit: int, timeout: float) -> None:
        self.app = app
        self.limit = limit
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")  # h11 checked its form
        if _CONTENT_LENGTH.fullmatch(declared) and int(declared) > self.limit:
            await refuse(send, 413, "Request body too large")
            return
        try:
            async with asyncio.timeout(self.timeout):
                read = await self._read(receive)
        except TimeoutError:
            await refuse(send, 408, "Request body not sent in time")
            return
        if read is None:
            await refuse(send, 413, "Request body too large")
            return

        async def replay() -> Message:
            return read.pop(0) if read else await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> list[Message] | None:
        """The request as one message (plus what followed it), or None past the limit."""
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return [message]  # the client left; the app sees that
            body += message.get("body", b"")
            if len(body) > self.limit:
                return None
            if not message.get("more_body", False):
                return [{"type": "http.request", "body": bytes(body), "more_body": False}]


class PathSplit:
    """Requests under ``prefix`` go to ``inner`` (``root_path`` set to the prefix, so its
    routes see the rest); everything else, lifespan included, goes to ``other``."""

    def __init__(self, prefix: str, inner: ASGIApp, other: ASGIApp) -> None:
        self.prefix = prefix
        self.inner = inner
        self.other = other

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (
            path == self.prefix or path.startswith(self.prefix + "/")
        ):
            await self.other(scope, receive, send)
            return
        if path == self.prefix:
            location = (b"location", (self.prefix + "/").encode())
            await refuse(send, 308, "Permanent Redirect", (location,))
            return
        await self.inner(
            {**scope, "root_path": scope.get("root_path", "") + self.prefix}, receive, send
        )


def allowed_hosts(settings: Settings, host: str) -> tuple[str, ...]:
    bound = () if host in ("0.0.0.0", "::", "") else (host,)
    return (*LOOPBACK_NAMES, *bound, *settings.http_allowed_hosts)


def http_app(
    mcp: FastMCP, settings: Settings, host: str, *, no_auth: bool, board: ASGIApp | None = None
) -> ASGIApp:
    """The ASGI app: the gates (rate, Host, token, body), then FastMCP's Origin guard,
    auth and MCP; with ``board``, the board at ``/board`` (behind its own cookie gate,
    which takes the same token) after the rate and Host gates."""
    check_bind(host, settings.http_token, no_auth)
    token = None if no_auth else settings.http_token
    if token is not None:
        mcp.auth = SharedTokenVerifier(token)
    hosts = allowed_hosts(settings, host)
    app: ASGIApp = mcp.http_app(
        path=PATH,
        host_origin_protection=True,
        allowed_hosts=list(hosts),
        allowed_origins=list(settings.http_allowed_origins),
    )
    app = BodyReader(app, MAX_BODY_BYTES, settings.http_body_timeout_seconds)
    if token is not None:
        app = TokenGate(app, token)
    if board is not None:
        small = BodyReader(board, BOARD_BODY_BYTES, settings.http_body_timeout_seconds)
        app = PathSplit(BOARD_PATH, small, app)
    app = HostGuard(app, hosts)
    if settings.http_rate_limit > 0:
        burst = max(1, int(settings.http_rate_limit * BURST_SECONDS))
        app = RateLimit(app, settings.http_rate_limit, burst)
    return app


class _WithoutQuery(logging.Filter):
    """Access-log lines without the query string: a client that puts its token in the URL
    must not have it written to the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, target, version, status = record.args
            record.args = (client, method, str(target).split("?", 1)[0], version, status)
        return True


def serve(
    mcp: FastMCP,
    settings: Settings,
    host: str,
    port: int,
    *,
    no_auth: bool,
    board: ASGIApp | None = None,
) -> None:
    """Run until interrupted. Uvicorn logs the address (with the real port if 0 was asked)."""
    run(http_app(mcp, settings, host, no_auth=no_auth, board=board), host, port)


def run(app: ASGIApp, host: str, port: int) -> None:
    """Serve ``app`` with the connection limits above until interrupted."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_level="info",
        timeout_graceful_shutdown=2,
        http="h11",  # the implementation these limits were tested with
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    logging.getLogger("uvicorn.access").addFilter(_WithoutQuery())  # after Config set logging up
    uvicorn.Server(config).run()
