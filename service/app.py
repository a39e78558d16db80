"""The FastAPI app: ``/rerank``, ``/search``, ``/healthz``, ``/metrics``, ``/admin/reload``.

:func:`create_app` builds the app from module-level routers (:mod:`.api_rank`,
:mod:`.api_ops`, :mod:`.api_admin`); its lifespan loads the model into a typed
:class:`~fusionrank.service.state.ServiceState` (nothing loads at import). Every answer
names the policy version (body and the ``X-Policy-Version`` header) and the request id
(``X-Request-ID``, the caller's when given). Refusals are ``ErrorResponse`` JSON with
``detail: [{field, message}]`` (see :mod:`.errors`); the service keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI

from fusionrank.service import api_admin, api_ops, api_rank
from fusionrank.service.admin import AdminGate
from fusionrank.service.config import ServiceConfig
from fusionrank.service.errors import add_error_handlers
from fusionrank.service.middleware import ServiceMiddleware
from fusionrank.service.prefetch import Prefetcher
from fusionrank.service.shedding import Admission
from fusionrank.service.state import ModelHolder, ServiceMetrics, ServiceState

logger = logging.getLogger(__name__)


def create_app(source: str | Path, config: ServiceConfig | None = None) -> FastAPI:
    """The service app for a run folder or policy folder (loaded at startup).

    Args:
        source: ``runs/<name>`` or ``runs/<name>/policies/<policy>``.
        config: The service settings (default: :class:`ServiceConfig`).
    """
    config = config or ServiceConfig()
    source = Path(source)
    holder: dict[str, ServiceState] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = await anyio.to_thread.run_sync(ModelHolder.load, source, config)
        state = ServiceState(
            holder=loaded,
            metrics=ServiceMetrics(),
            config=config,
            admission=Admission(config),
            prefetch=Prefetcher(config),
            admin=AdminGate.from_config(config),
        )
        state.metrics.serving(loaded.current)
        holder["state"] = state
        app.state.service = state
        logger.info(
            "service ready: policy %s (%s); admin %s",
            loaded.current.name,
            loaded.current.version,
            "on" if state.admin.enabled else f"off ({state.admin.off_reason})",
        )
        yield
        state.admission.close()
        state.prefetch.close()
        holder.clear()

    app = FastAPI(
        title="fusionrank re-ranker",
        description="Re-ranks a search stack's candidates with a trained ranking policy.",
        version="1",
        lifespan=lifespan,
    )
    app.add_middleware(ServiceMiddleware, state=lambda: holder.get("state"))
    add_error_handlers(app)
    for module in (api_rank, api_ops, api_admin):
        app.include_router(module.router)
    return app
