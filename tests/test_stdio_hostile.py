"""Hostile bytes on stdin of the real stdio server (reliability matrix M1, subprocess half):
whatever a client writes, the server answers or ignores it, keeps serving, and writes
nothing but JSON-RPC to stdout. These are raw lines, so they include what no well-behaved
client library would send: broken JSON, 10,000-deep nesting, lone surrogates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import pytest

WORKTRACK = str(Path(sys.executable).with_name("worktrack"))
PROTOCOL = "2025-11-25"


class Stdio:
    """``worktrack serve`` driven line by line."""

    def __init__(self, tmp_path: Path) -> None:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(tmp_path),
            "WORKTRACK_HOME": str(tmp_path / "state"),
            "WORKTRACK_REPO": str(tmp_path),
            **{k: v for k, v in os.environ.items() if k.startswith("COVERAGE")},
        }
        self.process = subprocess.Popen(
            [WORKTRACK, "serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.lines: Queue[bytes] = Queue()
        self.answers: dict[Any, dict[str, Any]] = {}
        self.stdout_lines = 0
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.next_id = 0

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def send(self, raw: bytes) -> int:
        assert self.process.stdin is not None
        self.process.stdin.write(raw + b"\n")
        self.process.stdin.flush()
        return self.next_id

    def request(self, method: str, params: Any) -> int:
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        return self.send(json.dumps(message).encode())

    def call(self, tool: str, raw_arguments: bytes) -> int:
        self.next_id += 1
        head = b'{"jsonrpc":"2.0","id":%d,"method":"tools/call",' % self.next_id
        return self.send(
            head + b'"params":{"name":"%s","arguments":' % tool.encode() + raw_arguments + b"}}"
        )

    def answer(self, wanted: int, timeout: float = 60) -> dict[str, Any] | None:
        """The answer to request ``wanted``; None if none came within ``timeout``.
        Every line read on the way must be a JSON-RPC message."""
        while wanted not in self.answers:
            try:
                line = self.lines.get(timeout=timeout)
            except Empty:
                return None
            try:
                message: dict[str, Any] = json.loads(line)
            except ValueError:
                raise AssertionError(f"not JSON-RPC on stdout: {line[:200]!r}") from None
            assert message["jsonrpc"] == "2.0"
            self.stdout_lines += 1
            self.answers[message.get("id")] = message
        return self.answers[wanted]

    def alive(self) -> bool:
        answer = self.answer(
            self.request("tools/call", {"name": "list_work_items", "arguments": {}})
        )
        return answer is not None and answer["result"]["isError"] is False

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.reader.join(timeout=30)  # EOF once the server is gone
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def stdio(tmp_path: Path) -> Iterator[Stdio]:
    server = Stdio(tmp_path)
    hello = {
        "protocolVersion": PROTOCOL,
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    }
    opened = server.answer(server.request("initialize", hello))
    assert opened is not None and opened["result"]["protocolVersion"] == PROTOCOL
    server.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
    yield server
    server.close()


def outcome(answer: dict[str, Any] | None) -> str:
    """The outcome: ok, the contract error's name, jsonrpc:<code>, or unanswered."""
    if answer is None:
        return "unanswered"
    if "error" in answer:
        return f"jsonrpc:{answer['error']['code']}"
    if not answer["result"]["isError"]:
        return "ok"
    name: str = json.loads(answer["result"]["content"][0]["text"])["error"]
    return name


TASK = b'{"item_type":"task","title":%s}'
DEEP_LIST = b'{"item_type":"task","title":"t","metadata":{"x":' + b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"item_type":"task","metadata":' + b'{"k":' * 10_000 + b"1" + b"}" * 10_001
BIG_INT = b'{"item_type":"task","title":"t","pr_number":' + b"9" * 5000 + b"}"
# What the SDK cannot parse it drops (no id to answer); the rest gets a tool error.
UNPARSEABLE = {"unanswered", "jsonrpc:-32700", "jsonrpc:-32600"}
HOSTILE = [
    ("deep-list", DEEP_LIST + b"}}", UNPARSEABLE),
    ("deep-object", DEEP_OBJECT, UNPARSEABLE),
    ("lone-surrogate", TASK % b'"a\\ud800b"', UNPARSEABLE | {"ValidationError"}),
    ("big-int", BIG_INT, UNPARSEABLE | {"ValidationError"}),
    ("ten-mb", TASK % json.dumps("x" * 10_000_000).encode(), {"ValidationError"}),
    ("nul", TASK % b'"a\\u0000b"', {"ValidationError"}),
    ("huge-float", b'{"item_type":"task","title":"t","priority":1e400}', {"ValidationError"}),
    ("bidi-key", b'{"item_type":"task","title":"t","\\u202eevil":1}', {"ValidationError"}),
    ("null-arguments", b"null", {"ValidationError"}),
    ("array-arguments", b'["task","t"]', {"jsonrpc:-32602", "ValidationError"}),
    ("invalid-utf8", TASK % b'"a\xff\xfeb"', {"ok", "ValidationError"}),  # read as U+FFFD
]  # fmt: skip


def test_hostile_lines_never_stop_the_server(stdio: Stdio) -> None:
    seen = {}
    for name, raw, allowed in HOSTILE:
        sent = stdio.call("create_work_item", raw)
        assert stdio.alive(), f"the server stopped serving after {name}"
        wait = 0 if "unanswered" in allowed else 60
        seen[name] = outcome(stdio.answer(sent, timeout=wait))
        assert seen[name] in allowed, (name, seen[name])
    print(f"stdio hostile: {seen}")


def test_broken_json_and_unknown_methods_are_answered_or_ignored(stdio: Stdio) -> None:
    for garbage in (b"{not json", b"\xff\xfe\x00garbage", b'{"jsonrpc":"2.0","id":"x","method":'):
        stdio.send(garbage)
    unknown = stdio.answer(stdio.request("no/such/method", {}))
    assert unknown is not None and unknown["error"]["code"] == -32601
    missing = outcome(stdio.answer(stdio.request("tools/call", {"name": "nope", "arguments": {}})))
    assert missing == "NotFoundError"
    assert stdio.alive()
    assert stdio.stdout_lines >= 3  # each one parsed as JSON-RPC on the way


SESSION_WITH = (
    b'{"item_type":"session","title":"t","metadata":{"token_budget":5000,"prompts_count":0,'
    b'"yaml_frontmatter":{"schema_version":"1","ratio":%s}}}'
)
TASK_WITH = b'{"item_type":"task","title":"t","metadata":{"estimated_hours":%s}}'


@pytest.mark.parametrize(
    ("arguments", "field"),
    [(SESSION_WITH, "metadata.yaml_frontmatter.ratio"), (TASK_WITH, "metadata.estimated_hours")],
    ids=["free-form", "typed"],
)
@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_nan_and_infinities_are_refused_not_stored_as_null(
    stdio: Stdio, arguments: bytes, field: str, literal: bytes
) -> None:
    """Python's json.dumps writes NaN and Infinity and the server parses them; stored, they
    became null. Refused now, naming the field."""
    answer = stdio.answer(stdio.call("create_work_item", arguments % literal))
    assert answer is not None and answer["result"]["isError"]
    error = json.loads(answer["result"]["content"][0]["text"])
    assert error["error"] == "ValidationError" and error["details"]["field"] == field
    assert "numbers must be finite" in error["details"]["constraint"]
    listed = stdio.answer(stdio.request("tools/call", {"name": "list_work_items", "arguments": {}}))
    assert listed is not None and listed["result"]["structuredContent"]["total_count"] == 0
