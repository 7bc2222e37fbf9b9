"""A real ``worktrack serve --http`` process for the HTTP tests, and how to read it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))
TOKEN = "wt-test-token-0123456789abcdefghijklmnopqrstuvwxyz"
WRONG_TOKENS = [
    "wrong",
    TOKEN[:-1],
    TOKEN + "x",
    TOKEN.upper(),
    "x" * len(TOKEN),
    " " + TOKEN,
]
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    },
}
RUNNING = re.compile(r"Uvicorn running on http://(\S+):(\d+)")


def listening_port(process: subprocess.Popen[bytes], log: Callable[[], str]) -> int:
    """The port a starting uvicorn server says it listens on (within a minute)."""
    deadline = time.monotonic() + 60
    while not (found := RUNNING.search(log())):
        assert process.poll() is None, log()
        assert time.monotonic() < deadline, "server did not start: " + log()
        time.sleep(0.1)
    return int(found.group(2))


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a server as Ctrl-C would, and wait for it."""
    if process and process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


class Server:
    """A ``worktrack serve --http`` process; its stdout and stderr go to files."""

    def __init__(self, tmp: Path, args: list[str], env: dict[str, str]) -> None:
        self.tmp = tmp
        self.args = args
        self.env = {
            **{k: v for k, v in os.environ.items() if k.startswith(("PATH", "COVERAGE"))},
            "HOME": str(tmp),
            "WORKTRACK_HOME": str(tmp / "state"),
            "WORKTRACK_REPO": str(tmp),
            "FASTMCP_LOG_LEVEL": "DEBUG",
            **env,
        }
        self.stdout = tmp / "server.out"
        self.stderr = tmp / "server.err"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    def run_to_exit(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [WORKTRACK, "serve", "--http", *self.args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def start(self) -> Server:
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen(
                [WORKTRACK, "serve", "--http", "--port", "0", *self.args],
                env=self.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
        self.port = listening_port(self.process, self.log)
        return self

    def stop(self) -> None:
        stop(self.process)

    def log(self) -> str:
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"

    def post(self, headers: dict[str, str], body: Any = LIST_TOOLS) -> httpx2.Response:
        return httpx2.post(self.url, headers={**ACCEPT, **headers}, json=body, timeout=30)


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def rss_kib(pid: int, field: str = "VmHWM") -> int:
    """The process's peak (``VmHWM``) or current (``VmRSS``) resident memory, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(rf"{field}:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


def peak_rss_kib(pid: int) -> int:
    return rss_kib(pid, "VmHWM")


def raw_request(port: int, head: str) -> socket.socket:
    """A connection that has sent ``head`` (request line and headers) and nothing more."""
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    connection.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
    return connection


def announce(port: int, length: int, headers: str = "") -> str:
    """The head of a POST to /mcp announcing a ``length``-byte body."""
    return (
        f"POST /mcp HTTP/1.1\nHost: 127.0.0.1:{port}\nContent-Type: application/json\n"
        f"Accept: application/json, text/event-stream\nContent-Length: {length}\n{headers}"
    )


def response_of(connection: socket.socket) -> tuple[int, dict[str, str]]:
    """The status code and headers (lower-case names) of the response on ``connection``."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = connection.recv(4096)
        if not chunk:
            raise AssertionError(f"closed without an answer: {answer!r}")
        answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split(" ", 2)[1]), {name.lower(): value for name, value in headers.items()}


def status_of(connection: socket.socket) -> int:
    """The status code of the response on ``connection`` (waiting for it)."""
    return response_of(connection)[0]


def wait_until_closed(connection: socket.socket) -> None:
    """Read the rest of the response until the server closes ``connection``; a server
    that keeps it open makes this raise ``TimeoutError`` (the socket's timeout)."""
    try:
        while connection.recv(65_536):
            pass
    except ConnectionResetError:
        pass


def feed_all_but_one_byte(connection: socket.socket, length: int) -> str:
    """Send ``length - 1`` bytes of body and keep the connection open: "held" if the server
    took them all, "closed" if it hung up first."""
    chunk = b"x" * 65_536
    sent = 0
    try:
        while sent < length - 1:
            size = min(len(chunk), length - 1 - sent)
            connection.sendall(chunk[:size])
            sent += size
    except OSError:  # reset or broken pipe: the server closed the connection
        return "closed"
    return "held"


def hold_bodies(port: int, connections: int, length: int) -> tuple[list[socket.socket], list[str]]:
    """``connections`` clients without a token, each announcing and sending all but the
    last byte of a ``length``-byte body, all at once; the sockets stay open."""
    opened = [raw_request(port, announce(port, length)) for _ in range(connections)]
    with ThreadPoolExecutor(connections) as pool:
        outcomes = list(pool.map(lambda c: feed_all_but_one_byte(c, length), opened))
    return opened, outcomes
