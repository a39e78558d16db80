"""``POST /admin/reload``: behind the admin rules (:mod:`fusionrank.service.admin`)."""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter, Depends, Request

from fusionrank.service.api_common import ERRORS, service_state
from fusionrank.service.api_ops import health
from fusionrank.service.inputs import RequestError
from fusionrank.service.reload import ReloadRefused
from fusionrank.service.schemas import HealthResponse, ReloadRequest

logger = logging.getLogger(__name__)


def require_admin(request: Request) -> None:
    """Raise :class:`~fusionrank.service.admin.AdminRefused` unless the admin rules pass."""
    host = request.client.host if request.client else None
    service_state(request).admin.check(host, request.headers)


router = APIRouter(prefix="/admin", dependencies=[Depends(require_admin)])


@router.post("/reload", response_model=HealthResponse, responses=ERRORS)
async def reload(request: Request, body: ReloadRequest | None = None) -> HealthResponse:
    """Check a policy in a child process, load it and swap it in (default: the configured
    one, re-read); a policy that fails leaves the old one serving (HTTP 422)."""
    state = service_state(request)
    path = None if body is None else body.path
    try:
        fresh = await anyio.to_thread.run_sync(state.holder.reload, path)
    except ReloadRefused:
        state.metrics.reloads.labels("refused").inc()
        raise
    except ValueError as error:
        state.metrics.reloads.labels("failed").inc()
        logger.warning("reload of %s failed, the old policy keeps serving: %s", path, error)
        raise RequestError("path", str(error)) from None
    state.metrics.reloads.labels("ok").inc()
    state.metrics.serving(fresh)
    return health(request)
