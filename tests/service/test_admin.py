"""The admin rules on their own: where the token comes from, which peers are loopback,
and the order the rules are checked in."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionrank.service.admin import AdminGate, AdminRefused
from fusionrank.service.config import ServiceConfig

TOKEN = "s3cret-token-of-24-chars"
GOOD = {"authorization": f"Bearer {TOKEN}"}


def gate(monkeypatch: pytest.MonkeyPatch, **config: object) -> AdminGate:
    monkeypatch.setenv("FUSIONRANK_ADMIN_TOKEN", TOKEN)
    return AdminGate.from_config(ServiceConfig(**config))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("203.0.113.9", False),
        ("::ffff:10.0.0.1", False),
        ("localhost", False),  # a name is not an address: the peer is always an address
        ("testclient", False),
        ("", False),
        (None, False),
    ],
)
def test_loopback_rule(monkeypatch: pytest.MonkeyPatch, host: str | None, allowed: bool) -> None:
    admin = gate(monkeypatch)
    if allowed:
        admin.check(host, GOOD)
        return
    with pytest.raises(AdminRefused, match="loopback rule") as refused:
        admin.check(host, GOOD)
    assert refused.value.status == 403


def test_token_from_a_file_wins_and_is_stripped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    path.write_text("  file-token-0123456789abc \n")
    admin = gate(monkeypatch, admin_token_file=str(path))
    admin.check("127.0.0.1", {"authorization": "Bearer file-token-0123456789abc"})
    with pytest.raises(AdminRefused, match="token rule: the bearer token does not match"):
        admin.check("127.0.0.1", GOOD)  # the environment's token is not used


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"admin": False}, "service.admin is false"),
        ({"admin_token_env": "FUSIONRANK_TEST_UNSET"}, "no admin token is configured"),
        ({"admin_token_file": "/nonexistent/token"}, "no admin token is configured"),
    ],
)
def test_no_token_means_admin_is_off(
    monkeypatch: pytest.MonkeyPatch, setup: dict, message: str
) -> None:
    admin = gate(monkeypatch, **setup)
    assert not admin.enabled and message in str(admin.off_reason)
    with pytest.raises(AdminRefused, match=f"switch rule: .*{message}"):
        admin.check("127.0.0.1", GOOD)  # even a right token from loopback


def test_short_tokens_turn_admin_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSIONRANK_SHORT", "abc")
    admin = AdminGate.from_config(ServiceConfig(admin_token_env="FUSIONRANK_SHORT"))
    assert not admin.enabled and "fewer than 16" in str(admin.off_reason)


def test_the_rules_are_checked_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    admin = gate(monkeypatch)
    with pytest.raises(AdminRefused, match="loopback rule"):  # before the token rule
        admin.check("203.0.113.9", {})
    with pytest.raises(AdminRefused) as missing:
        admin.check("127.0.0.1", {"authorization": "Bearer "})
    assert missing.value.status == 401 and missing.value.rule == "token"
    assert repr(admin).find(TOKEN) == -1  # the token never shows in a repr or log line
