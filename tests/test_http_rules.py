"""The HTTP bind and Host rules as pure functions (the server process is in test_http.py)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from worktrack.http_server import (
    RateLimit,
    RefusedToStart,
    SharedTokenVerifier,
    allowed_hosts,
    check_bind,
    is_loopback,
)
from worktrack.settings import Settings

LONG = SecretStr("t" * 40)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LOCALHOST", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.0.0.5", False),
        ("example.com", False),
        ("localhost.example.com", False),
        ("", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("host", "token", "no_auth", "outcome"),
    [
        ("127.0.0.1", LONG, False, []),
        ("127.0.0.1", None, True, []),
        ("::1", LONG, True, []),  # --no-auth wins on loopback
        ("0.0.0.0", LONG, False, []),
        ("127.0.0.1", SecretStr("short"), False, ["shorter than 32"]),
        ("::1", SecretStr("x" * 31), False, ["shorter than 32"]),
        ("0.0.0.0", SecretStr("x" * 31), False, RefusedToStart),
        ("10.0.0.5", SecretStr("short"), False, RefusedToStart),
        ("127.0.0.1", None, False, RefusedToStart),
        ("127.0.0.1", SecretStr(""), False, RefusedToStart),
        ("0.0.0.0", None, False, RefusedToStart),
        ("0.0.0.0", LONG, True, RefusedToStart),
        ("192.168.1.2", None, True, RefusedToStart),
    ],
)
def test_bind_rules(
    host: str, token: SecretStr | None, no_auth: bool, outcome: list[str] | type[Exception]
) -> None:
    if isinstance(outcome, list):
        warnings = check_bind(host, token, no_auth)
        assert len(warnings) == len(outcome)
        assert all(part in warning for part, warning in zip(outcome, warnings, strict=True))
    else:
        with pytest.raises(outcome):
            check_bind(host, token, no_auth)


def test_allowed_hosts_add_the_bound_address_and_configured_names() -> None:
    settings = Settings(http_allowed_hosts="tracker.example.com, other.example")
    assert allowed_hosts(settings, "0.0.0.0") == (
        "127.0.0.1", "::1", "localhost", "tracker.example.com", "other.example",
    )  # fmt: skip
    assert "10.0.0.5" in allowed_hosts(settings, "10.0.0.5")


async def test_the_verifier_accepts_only_the_exact_token() -> None:
    verifier = SharedTokenVerifier(LONG)
    accepted = await verifier.verify_token("t" * 40)
    assert accepted is not None and accepted.client_id == "worktrack-http"
    for wrong in ("t" * 39, "t" * 41, "T" * 40, "", "t" * 39 + "é"):
        assert await verifier.verify_token(wrong) is None
    assert "t" * 40 not in repr(Settings(http_token=LONG))  # a SecretStr: never printed


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _never_called(*_: object) -> None:
    raise AssertionError("the rate limit test calls take() only")


def test_the_rate_limit_is_a_bucket_per_client_address() -> None:
    clock = Clock()
    limit = RateLimit(_never_called, per_second=2, burst=10, clock=clock)
    assert [limit.take("10.0.0.1") for _ in range(10)] == [0.0] * 10  # the burst
    assert limit.take("10.0.0.1") == 0.5  # then one more every half second
    assert limit.take("10.0.0.2") == 0.0  # another client has its own bucket
    clock.now += 0.5
    assert limit.take("10.0.0.1") == 0.0
    assert limit.take("10.0.0.1") > 0
    clock.now += 60
    assert [limit.take("10.0.0.1") for _ in range(10)] == [0.0] * 10  # refilled to the burst


def test_the_rate_limit_forgets_idle_clients_when_it_tracks_too_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("worktrack.http_server.MAX_TRACKED_CLIENTS", 3)
    clock = Clock()
    limit = RateLimit(_never_called, per_second=1, burst=2, clock=clock)
    for address in ("a", "b", "c"):
        limit.take(address)
    clock.now += 1  # "a" to "c" refill in 2 s: not idle yet
    limit.take("d")
    assert set(limit.buckets) == {"a", "b", "c", "d"}
    clock.now += 2
    limit.take("e")
    assert set(limit.buckets) == {"e"}
