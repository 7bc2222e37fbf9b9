"""Hostile clients of ``worktrack serve --http``: a real uvicorn server hit with raw
sockets, so the requests are what an attacker sends, not what a client library would.

Each test runs the attack and shows it refused: bodies announced without a token are
answered with 401 before they are sent and cost no memory; wrong tokens meet 429 once
the client's burst is spent; slow, oversized and endless bodies are cut off; connections
beyond the limit get 503.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastmcp import Client

from worktrack.http_server import MAX_BODY_BYTES, MAX_CONNECTIONS

from httpserver import (
    INITIALIZE,
    TOKEN,
    Server,
    announce,
    bearer,
    hold_bodies,
    raw_request,
    response_of,
    rss_kib,
    status_of,
    wait_until_closed,
)

pytestmark = pytest.mark.slow
FOUR_MB = 4_000_000
WITH_TOKEN = f"Authorization: Bearer {TOKEN}\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose rate limit the other attacks do not reach."""
    env = {"WORKTRACK_HTTP_TOKEN": TOKEN, "WORKTRACK_HTTP_RATE_LIMIT": "1000"}
    running = Server(tmp_path_factory.mktemp("hardening"), [], env).start()
    yield running
    running.stop()


@pytest.mark.parametrize(
    "headers",
    ["", "Authorization: Bearer wrong\n", f"Authorization: Basic {TOKEN}\n", f"X-Token: {TOKEN}\n"],
    ids=["none", "wrong", "basic", "other-header"],
)
def test_a_4mb_body_announced_without_the_token_gets_401_before_it_is_sent(
    server: Server, headers: str
) -> None:
    connection = raw_request(server.port, announce(server.port, FOUR_MB, headers))
    with connection:
        status, answer = response_of(connection)  # not a byte of the body was sent
        assert status == 401 and answer["www-authenticate"].startswith("Bearer")
        assert answer["connection"] == "close"
        wait_until_closed(connection)


def test_60_tokenless_connections_holding_4mb_bodies_cost_no_memory(server: Server) -> None:
    assert server.process is not None
    pid = server.process.pid
    before = rss_kib(pid, "VmRSS")
    opened, outcomes = hold_bodies(server.port, 60, FOUR_MB)
    try:
        peak = rss_kib(pid, "VmHWM")
        during = rss_kib(pid, "VmRSS")
        assert outcomes == ["closed"] * 60  # each was cut off, none could keep sending
    finally:
        for connection in opened:
            connection.close()
    print(f"RSS {before // 1024} MB, with 60 connections {during // 1024} MB, peak {peak // 1024}")
    assert during - before < 30_000 and peak - before < 30_000  # 60 x 4 MB would be 240 MB
    assert server.post(bearer(), INITIALIZE).status_code == 200  # and it still serves


def test_hundreds_of_bad_tokens_meet_429(tmp_path: Path) -> None:
    running = Server(tmp_path, [], {"WORKTRACK_HTTP_TOKEN": TOKEN}).start()  # 20/s, burst 100
    try:
        answers = []
        for attempt in range(300):
            guess = f"Authorization: Bearer {TOKEN[:-3]}{attempt:03d}\n"
            with raw_request(running.port, announce(running.port, 2, guess)) as connection:
                connection.sendall(b"{}")
                answers.append(response_of(connection))
        statuses = [status for status, _ in answers]
        first_throttled = statuses.index(429)
        print(f"failed authentications before throttling: {first_throttled}")
        print(f"of 300 wrong tokens, {statuses.count(429)} met 429")
        assert set(statuses) == {401, 429} and statuses[:100] == [401] * 100  # the burst
        assert statuses.count(429) >= 150
        assert all(int(headers["retry-after"]) >= 1 for status, headers in answers if status == 429)
        # The right token from the same address waits its turn too, then gets in.
        rapid = [_initialize(running.port) for _ in range(50)]
        waits = [int(headers["retry-after"]) for status, headers in rapid if status == 429]
        assert waits, "50 rapid requests never met the limit"
        time.sleep(waits[-1])
        assert running.post(bearer(), INITIALIZE).status_code == 200
    finally:
        running.stop()


def _initialize(port: int) -> tuple[int, dict[str, str]]:
    body = json.dumps(INITIALIZE).encode()
    with raw_request(port, announce(port, len(body), WITH_TOKEN)) as connection:
        connection.sendall(body)
        return response_of(connection)


def test_a_body_sent_too_slowly_gets_408(tmp_path: Path) -> None:
    env = {"WORKTRACK_HTTP_TOKEN": TOKEN, "WORKTRACK_HTTP_BODY_TIMEOUT_SECONDS": "1"}
    running = Server(tmp_path, [], env).start()
    try:
        with raw_request(running.port, announce(running.port, 100, WITH_TOKEN)) as connection:
            connection.sendall(b'{"jsonrpc":')  # and then nothing
            assert status_of(connection) == 408
            wait_until_closed(connection)
        assert running.post(bearer(), INITIALIZE).status_code == 200
    finally:
        running.stop()


def test_a_body_over_the_cap_gets_413_unread(server: Server) -> None:
    head = announce(server.port, MAX_BODY_BYTES + 1, WITH_TOKEN)
    with raw_request(server.port, head) as connection:
        assert status_of(connection) == 413  # announced: refused before it is sent
        wait_until_closed(connection)
    chunked = (
        f"POST /mcp HTTP/1.1\nHost: 127.0.0.1:{server.port}\nContent-Type: application/json\n"
        f"Accept: application/json, text/event-stream\n{WITH_TOKEN}Transfer-Encoding: chunked\n"
    )
    with raw_request(server.port, chunked) as connection:
        chunk = b"x" * 65_536
        try:  # no length announced: counted as it arrives, cut off past the cap
            for _ in range(MAX_BODY_BYTES // len(chunk) + 2):
                connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:
            pass  # the server answered and closed while the rest was still being sent
        assert status_of(connection) == 413


async def test_the_largest_legal_call_fits_under_the_cap(server: Server) -> None:
    """Arguments just under 1 MiB (the argument limit) reach the tool's own validation."""
    async with Client(server.url, auth=TOKEN) as client:
        text = "é" * 520_000  # 1,040,000 bytes of UTF-8
        arguments = {"item_type": "task", "title": "t", "metadata": {"blocked_reason": text}}
        result = await client.call_tool("create_work_item", arguments, raise_on_error=False)
        error = json.loads(result.content[0].text)  # type: ignore[union-attr]
        assert error["details"]["field"] == "metadata"  # the field's own rule, not 413


def test_connections_beyond_the_limit_get_503(tmp_path: Path) -> None:
    running = Server(tmp_path, [], {"WORKTRACK_HTTP_TOKEN": TOKEN}).start()
    # Connected, never sending a request: each holds one of the server's connections.
    idle = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(MAX_CONNECTIONS)]
    try:
        assert running.post(bearer()).status_code == 503
    finally:
        for connection in idle:
            connection.close()
    try:
        time.sleep(0.5)  # let the server see them go
        assert running.post(bearer(), INITIALIZE).status_code == 200
    finally:
        running.stop()
