"""ASGI middleware of the service: request ids, the body-size limit, the body timeout,
metrics and one structured log line per request.

The log line is JSON on the ``fusionrank.service.access`` logger::

    {"request_id": "...", "method": "POST", "path": "/rerank", "status": 200,
     "policy_version": "3f2a...", "k": 100, "latency_ms": 1.42}
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import HTTPException

access_logger = logging.getLogger("fusionrank.service.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID = "x-request-id"
POLICY_VERSION = "x-policy-version"
KNOWN_PATHS = frozenset(
    {
        "/rerank",
        "/search",
        "/healthz",
        "/metrics",
        "/noop",
        "/admin/reload",
        "/docs",
        "/openapi.json",
    }
)


def too_slow(seconds: float) -> HTTPException:
    return HTTPException(
        408,
        detail=f"the request body did not arrive within {seconds:g} s "
        "(service.body_timeout_s); send the whole body at once",
    )


def too_large(limit: int) -> HTTPException:
    return HTTPException(
        413,
        detail=f"the request body exceeds {limit} bytes (service.max_body_bytes); "
        "send fewer candidates or raise the limit",
    )


class ServiceMiddleware:
    """Wraps the app: ``state(scope)`` gives the :class:`ServiceState` (None before the
    lifespan finished).

    Args:
        app: The inner ASGI app.
        state: Returns the app's service state.
    """

    def __init__(self, app: ASGIApp, state: Callable[[], Any]) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        service = self.state()
        if scope["type"] != "http" or service is None:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        request_id = (
            headers.get(REQUEST_ID.encode(), b"").decode("latin-1")[:64] or uuid.uuid4().hex
        )
        info = scope.setdefault("state", {})
        info["request_id"] = request_id
        version = service.holder.current.version
        info["policy_version"] = version
        limit = service.config.max_body_bytes
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (REQUEST_ID.encode(), request_id.encode("latin-1")),
                    (POLICY_VERSION.encode(), str(info.get("policy_version", version)).encode()),
                ]
            await send(message)

        limited_receive = BodyReader(receive, limit, service.config.body_timeout_s, start, info)
        declared = headers.get(b"content-length")
        try:
            if declared is not None and declared.isdigit() and int(declared) > limit:
                info["early_413"] = True
                await self.app(scope, _refuse(limit), send_with_headers)
            else:
                await self.app(scope, limited_receive, send_with_headers)
        finally:
            self._record(service, scope, info, status, time.perf_counter() - start)

    def _record(
        self, service: Any, scope: Scope, info: dict[str, Any], status: int, seconds: float
    ) -> None:
        route = scope.get("route")
        path = getattr(route, "path", None) or scope.get("path", "")
        endpoint = path if path in KNOWN_PATHS else "other"
        metrics = service.metrics
        metrics.requests.labels(endpoint, str(status)).inc()
        metrics.latency.labels(endpoint).observe(seconds)
        if status >= 400:
            metrics.errors.labels(endpoint, info.get("error", str(status))).inc()
        if endpoint in ("/metrics", "/healthz"):
            return
        access_logger.info(
            json.dumps(
                {
                    "request_id": info.get("request_id"),
                    "method": scope.get("method"),
                    "path": endpoint,
                    "status": status,
                    "policy_version": info.get("policy_version"),
                    "k": info.get("k"),
                    "latency_ms": round(seconds * 1e3, 3),
                }
            )
        )


class BodyReader:
    """A ``receive`` that refuses a body over ``limit`` bytes (413) or one that has not
    arrived by ``deadline`` (408); after the body it passes messages through.

    Args:
        receive: The server's receive.
        limit: ``service.max_body_bytes``.
        timeout: ``service.body_timeout_s``.
        start: ``time.perf_counter()`` at the request's start.
        info: The request's state (``error`` is set on a timeout).
    """

    def __init__(
        self, receive: Receive, limit: int, timeout: float, start: float, info: dict
    ) -> None:
        self.receive = receive
        self.limit = limit
        self.timeout = timeout
        self.deadline = start + timeout
        self.info = info
        self.received = 0
        self.complete = False

    async def __call__(self) -> Message:
        if self.complete:  # after the body: e.g. waiting for a disconnect, no deadline
            return await self.receive()
        try:
            async with asyncio.timeout(max(self.deadline - time.perf_counter(), 0.0)):
                message = await self.receive()
        except TimeoutError:
            self.info["error"] = "body_timeout"
            raise too_slow(self.timeout) from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.complete = not message.get("more_body", False)
            if self.received > self.limit:
                raise too_large(self.limit)
        return message


def _refuse(limit: int) -> Receive:
    """A receive that refuses the body at once (its declared length is over the limit)."""

    async def receive() -> Message:
        raise too_large(limit)

    return receive
