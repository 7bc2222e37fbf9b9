"""``worktrack serve --http``: a real server process on a loopback port, spoken to over HTTP.

Covers who gets in (bearer token: valid, missing, wrong; --no-auth only on loopback), which
Host and Origin headers are answered (DNS rebinding), where it binds, what it refuses to
start as, size and rate limits, and that the token never reaches a log.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from fastmcp import Client
from sqlalchemy.engine import make_url

from conftest import ADMIN_URL, _admin
from httpserver import (
    ACCEPT,
    INITIALIZE,
    LIST_TOOLS,
    TOKEN,
    WORKTRACK,
    WRONG_TOKENS,
    Server,
    bearer,
    peak_rss_kib,
)


@pytest.fixture
def empty_pg() -> Iterator[str]:
    name = f"worktrack_http_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("http"), [], {"WORKTRACK_HTTP_TOKEN": TOKEN})
    running.start()
    yield running
    running.stop()


async def test_valid_token_reaches_every_tool(server: Server) -> None:
    async with Client(server.url, auth=TOKEN) as client:
        names = {tool.name for tool in await client.list_tools()}
        assert {"create_work_item", "query_work_item", "generate_status_report"} <= names
        made = await client.call_tool("create_work_item", {"item_type": "task", "title": "http"})
        found = await client.call_tool("query_work_item", {"id": made.structured_content["id"]})
        assert found.structured_content["title"] == "http"
        assert found.structured_content["data_source"] == "sqlite"


@pytest.mark.parametrize("token", WRONG_TOKENS, ids=range(len(WRONG_TOKENS)))
def test_wrong_token_is_401(server: Server, token: str) -> None:
    answer = server.post(bearer(token))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert "invalid_token" in answer.headers["www-authenticate"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}, {"X-Token": TOKEN}],
    ids=["none", "basic", "no-scheme", "other-header"],
)
def test_missing_token_is_401(server: Server, headers: dict[str, str]) -> None:
    answer = server.post(headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")


def test_token_in_the_query_string_is_not_accepted(server: Server) -> None:
    answer = httpx2.post(f"{server.url}?access_token={TOKEN}", headers=ACCEPT, json=LIST_TOOLS)
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": "https://evil.example:443"}, 403),
        ({"Origin": "null"}, 403),
        ({"Host": "evil.example"}, 403),
        ({"Host": "evil.example:8765"}, 403),
        ({"Host": "127.0.0.1.evil.example"}, 403),
        ({"Host": "evil.example", "Authorization": "none"}, 403),
        ({"Host": "evil.example", "Origin": "http://evil.example"}, 403),
    ],
    ids=["origin", "origin-https", "origin-null", "host", "host-port", "host-suffix",
         "host-no-token", "both"],
)  # fmt: skip
def test_foreign_host_or_origin_is_403(
    server: Server, headers: dict[str, str], status: int
) -> None:
    answer = server.post({**bearer(), **headers})
    assert answer.status_code == status


def test_foreign_host_is_refused_before_the_token_is_looked_at(server: Server) -> None:
    assert server.post({"Host": "evil.example"}).status_code == 403  # no token at all


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Origin": "http://127.0.0.1:{port}"},
        {"Origin": "http://localhost:{port}"},
        {"Host": "localhost:{port}"},
        {"Host": "[::1]:{port}"},
    ],
    ids=["no-origin", "same-origin", "localhost-origin", "localhost-host", "ipv6-host"],
)
def test_loopback_host_and_origin_are_answered(server: Server, headers: dict[str, str]) -> None:
    filled = {key: value.format(port=server.port) for key, value in headers.items()}
    answer = server.post({**bearer(), **filled})
    assert answer.status_code not in (401, 403, 421)  # reaches MCP (which wants a session)


def test_forged_or_unknown_session_ids_are_refused(server: Server) -> None:
    opened = server.post(bearer(), INITIALIZE)
    session = opened.headers["mcp-session-id"]
    assert len(bytes.fromhex(session)) >= 16  # 128 bits, random (uuid4)
    version = {"MCP-Protocol-Version": "2025-11-25"}
    assert server.post({**bearer(), **version, "Mcp-Session-Id": session}).status_code == 200
    one_off = session[:-1] + ("1" if session.endswith("0") else "0")  # never the session itself
    for forged in ("0" * 32, one_off, "forged", "../" + session):
        answer = server.post({**bearer(), **version, "Mcp-Session-Id": forged})
        assert answer.status_code in (400, 404), forged
    assert server.post({**bearer(TOKEN + "x"), "Mcp-Session-Id": session}).status_code == 401


def test_body_over_the_limit_is_413_and_memory_stays_bounded(server: Server) -> None:
    assert server.process is not None
    before = peak_rss_kib(server.process.pid)
    for _ in range(5):
        answer = httpx2.post(
            server.url, headers={**ACCEPT, **bearer()}, content=b"x" * 10_000_000, timeout=60
        )
        assert answer.status_code == 413
    grown = peak_rss_kib(server.process.pid) - before
    assert grown < 20_000  # the 10 MB bodies were refused unread
    assert server.post(bearer()).status_code != 413


async def test_argument_over_1_mib_is_a_validation_error(server: Server) -> None:
    async with Client(server.url, auth=TOKEN) as client:
        # Over the 1 MiB argument limit, under the body cap (the envelope's margin above it).
        big = {"item_type": "task", "title": "t", "metadata": {"blocked_reason": "x" * 1_060_000}}
        result = await client.call_tool("create_work_item", big, raise_on_error=False)
        error = json.loads(result.content[0].text)  # type: ignore[union-attr]
        assert error["error"] == "ValidationError" and error["details"]["field"] == "arguments"
        ok = await client.call_tool("list_work_items", {"limit": 1})
        assert ok.structured_content["items"] is not None


def test_binds_loopback_only_by_default(server: Server) -> None:
    assert (f"127.0.0.1:{server.port}") in server.log()
    assert _listening_addresses(server.port) == {"127.0.0.1"}


def test_the_token_never_reaches_a_log(server: Server) -> None:
    for token in WRONG_TOKENS[:4]:
        server.post(bearer(token))
    server.post(bearer())
    log = server.log()
    assert "invalid_token" in log or "401" in log  # the rejections were logged
    for secret in (TOKEN, *WRONG_TOKENS[:4]):
        assert secret not in log


def test_no_auth_serves_loopback_without_a_token(tmp_path: Path) -> None:
    running = Server(tmp_path, ["--no-auth"], {}).start()
    try:
        assert running.post({}).status_code not in (401, 403)
        assert running.post({"Origin": "http://evil.example"}).status_code == 403
        assert running.post({"Host": "evil.example"}).status_code == 403
    finally:
        running.stop()


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--no-auth", "--host", "0.0.0.0"], {}, "--no-auth is allowed only on a loopback"),
        (["--no-auth", "--host", "10.1.2.3"], {"WORKTRACK_HTTP_TOKEN": TOKEN}, "only on a"),
        (["--host", "0.0.0.0"], {}, "reachable from the network"),
        (["--host", "::"], {"WORKTRACK_HTTP_TOKEN": ""}, "without a token"),
        ([], {}, "set WORKTRACK_HTTP_TOKEN"),
        (["--host", "0.0.0.0"], {"WORKTRACK_HTTP_TOKEN": "x" * 31}, "shorter than 32 characters"),
        (["--host", "10.1.2.3"], {"WORKTRACK_HTTP_TOKEN": "short"}, "reachable from the network"),
    ],
    ids=["no-auth-all", "no-auth-lan", "no-token-all", "empty-token-v6", "no-token-loopback",
         "short-token-all", "short-token-lan"],
)  # fmt: skip
def test_unsafe_binds_refuse_to_start(
    tmp_path: Path, args: list[str], env: dict[str, str], says: str
) -> None:
    done = Server(tmp_path, args, env).run_to_exit()
    assert done.returncode == 2
    assert says in done.stderr and done.stdout == ""
    assert "Uvicorn running" not in done.stderr


@pytest.mark.postgres
def test_an_unmigrated_database_is_a_clear_refusal(tmp_path: Path, empty_pg: str) -> None:
    done = Server(tmp_path, ["--no-auth"], {"WORKTRACK_DATABASE_URL": empty_pg}).run_to_exit()
    assert done.returncode == 2 and "alembic upgrade head" in done.stderr
    assert "Uvicorn running" not in done.stderr and done.stdout == ""


def test_http_options_without_http_are_refused(tmp_path: Path) -> None:
    done = subprocess.run(
        [WORKTRACK, "serve", "--no-auth"],
        env=Server(tmp_path, [], {}).env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "go with --http" in done.stderr and done.stdout == ""


def test_non_loopback_bind_with_a_token_still_requires_it(tmp_path: Path) -> None:
    running = Server(tmp_path, ["--host", "0.0.0.0"], {"WORKTRACK_HTTP_TOKEN": TOKEN}).start()
    try:
        assert running.post({}).status_code == 401
        assert running.post(bearer()).status_code not in (401, 403)
        assert running.post({**bearer(), "Host": "evil.example"}).status_code == 403
        answered = running.post({**bearer(), "Host": f"127.0.0.1:{running.port}"})
        assert answered.status_code not in (401, 403, 421)
    finally:
        running.stop()


def test_rapid_calls_from_one_client_are_rate_limited(tmp_path: Path) -> None:
    env = {"WORKTRACK_HTTP_TOKEN": TOKEN, "WORKTRACK_HTTP_RATE_LIMIT": "2"}
    running = Server(tmp_path, [], env).start()
    try:
        answers = [running.post(bearer()) for _ in range(200)]
        limited = [answer for answer in answers if answer.status_code == 429]
        assert all(answer.status_code != 429 for answer in answers[:10])  # the burst: 5 s at 2/s
        assert len(limited) > 100
        assert all(int(answer.headers["retry-after"]) >= 1 for answer in limited)
        print(f"rate limit: {len(limited)}/200 rapid calls rejected")
    finally:
        running.stop()


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on ``port`` (Linux /proc/net)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.add(_address(address, width))
    return found


def _address(hex_address: str, width: int) -> str:
    if width == 8:
        return ".".join(str(b) for b in reversed(bytes.fromhex(hex_address)))
    return "::" if set(hex_address) == {"0"} else hex_address
