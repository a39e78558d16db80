"""Who may call ``/admin/*``: three rules, checked in order, each refusal naming its rule.

1. **switch**: ``service.admin`` is true, and an admin token is configured (from the file
   ``service.admin_token_file``, else the environment variable
   ``service.admin_token_env``, default ``FUSIONRANK_ADMIN_TOKEN``; at least 16
   characters). No token means admin is off. -> 403
2. **loopback**: the TCP peer is a loopback IP address (127.0.0.0/8, ::1) and the request
   carries no proxy header (``Forwarded``, ``X-Forwarded-For``, ``X-Real-IP``): a reverse
   proxy on the same host would make every caller look local. -> 403
3. **token**: ``Authorization: Bearer <token>``, compared in constant time
   (:func:`hmac.compare_digest`). Missing -> 401 with ``WWW-Authenticate: Bearer``;
   wrong -> 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fusionrank.service.config import ServiceConfig

logger = logging.getLogger(__name__)

MIN_TOKEN_CHARS = 16
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


class AdminRefused(Exception):
    """An admin request refused by a rule.

    Args:
        status: 401 or 403.
        rule: ``switch``, ``loopback`` or ``token``.
        message: Why, and what to do.
    """

    def __init__(self, status: int, rule: str, message: str) -> None:
        super().__init__(f"{rule} rule: {message}")
        self.status = status
        self.rule = rule
        self.message = f"{rule} rule: {message}"


@dataclass(frozen=True, repr=False)
class AdminGate:
    """The admin rules of one app.

    Args:
        token: The configured token's bytes, or None.
        off_reason: Why admin is off (None when it is on).
    """

    token: bytes | None
    off_reason: str | None

    @classmethod
    def from_config(cls, config: ServiceConfig) -> AdminGate:
        """Read the token (file, else environment) once, at startup."""
        if not config.admin:
            return cls(None, "admin endpoints are off (service.admin is false)")
        where = (
            f"service.admin_token_file={config.admin_token_file}"
            if config.admin_token_file
            else f"the {config.admin_token_env} environment variable"
        )
        token = _read_token(config)
        if not token:
            return cls(
                None,
                f"admin is off: no admin token is configured (set {config.admin_token_env} "
                "or service.admin_token_file)",
            )
        if len(token) < MIN_TOKEN_CHARS:
            return cls(
                None,
                f"admin is off: the token in {where} has {len(token)} characters, fewer "
                f"than {MIN_TOKEN_CHARS}; use a long random one",
            )
        return cls(token.encode(), None)

    @property
    def enabled(self) -> bool:
        return self.token is not None

    def check(self, client_host: str | None, headers: Mapping[str, str]) -> None:
        """Raise :class:`AdminRefused` unless every rule passes.

        Args:
            client_host: The TCP peer's address (``request.client.host``), or None.
            headers: The request headers (lower-case names).
        """
        if self.token is None:
            raise AdminRefused(403, "switch", str(self.off_reason))
        if not _is_loopback(client_host):
            raise AdminRefused(
                403,
                "loopback",
                f"admin is allowed from a loopback address only; this request came from "
                f"{client_host or 'an unknown address'}",
            )
        proxied = [h for h in PROXY_HEADERS if h in headers]
        if proxied:
            raise AdminRefused(
                403,
                "loopback",
                f"the request came through a proxy ({', '.join(proxied)}); call admin "
                "directly on the loopback interface",
            )
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise AdminRefused(
                401, "token", "no bearer token; send the header Authorization: Bearer <token>"
            )
        if not hmac.compare_digest(given.strip().encode(), self.token):
            raise AdminRefused(403, "token", "the bearer token does not match")


def _read_token(config: ServiceConfig) -> str | None:
    if config.admin_token_file:
        path = Path(config.admin_token_file)
        try:
            return path.read_text().strip() or None
        except OSError as error:
            logger.warning("admin is off: cannot read service.admin_token_file: %s", error)
            return None
    return (os.environ.get(config.admin_token_env) or "").strip() or None


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:  # a name such as "localhost" or "testclient" is not an address
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)
