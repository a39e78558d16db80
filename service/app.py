"""The FastAPI app: ``/rerank``, ``/search``, ``/healthz``, ``/metrics``, ``/admin/reload``.

:func:`create_app` builds the app; its lifespan loads the model into a typed
:class:`~fusionrank.service.state.ServiceState` (nothing loads at import). Every answer
names the policy version (body and the ``X-Policy-Version`` header) and the request id
(``X-Request-ID``, the caller's when given). Bad input gets 422 (or 413 for an
oversized body) with ``detail: [{field, message}]``; the service keeps serving.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from fusionrank.service.config import ServiceConfig
from fusionrank.service.inputs import RequestError
from fusionrank.service.middleware import ServiceMiddleware
from fusionrank.service.reranker import Reranker, RerankResult
from fusionrank.service.schemas import (
    ErrorItem,
    ErrorResponse,
    HealthResponse,
    RankedItem,
    RankResponse,
    ReloadRequest,
    RerankRequest,
    SearchRequest,
)
from fusionrank.service.state import ModelHolder, ServiceMetrics, ServiceState

logger = logging.getLogger(__name__)

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost", "testclient"})


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
        state = ServiceState(holder=loaded, metrics=ServiceMetrics(), config=config)
        state.metrics.serving(loaded.current)
        holder["state"] = state
        app.state.service = state
        logger.info("service ready: policy %s (%s)", loaded.current.name, loaded.current.version)
        yield
        holder.clear()

    app = FastAPI(
        title="fusionrank re-ranker",
        description="Re-ranks a search stack's candidates with a trained ranking policy.",
        version="1",
        lifespan=lifespan,
    )
    app.add_middleware(ServiceMiddleware, state=lambda: holder.get("state"))
    _add_error_handlers(app)
    _add_routes(app)
    return app


def service_state(request: Request) -> ServiceState:
    return request.app.state.service


def _response(request: Request, result: RerankResult) -> RankResponse:
    return RankResponse(
        request_id=request.state.request_id,
        policy_name=result.policy_name,
        policy_version=result.policy_version,
        n_candidates=result.n_candidates,
        fusion_weights=result.fusion_weights,
        items=[
            RankedItem(item_id=i, score=float(s), rank=r)
            for r, (i, s) in enumerate(zip(result.item_ids, result.scores, strict=True), start=1)
        ],
    )


def _serving(request: Request) -> Reranker:
    """The re-ranker this request uses from start to end (a reload does not change it)."""
    reranker = service_state(request).holder.current
    request.state.policy_version = reranker.version
    return reranker


def _add_routes(app: FastAPI) -> None:
    errors: dict[int | str, dict[str, Any]] = {
        413: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    }

    @app.post("/rerank", response_model=RankResponse, responses=errors)
    async def rerank(body: RerankRequest, request: Request) -> RankResponse:
        """Re-rank the caller's candidates (catalog ids, or any ids with features)."""
        reranker = _serving(request)
        request.state.k = len(body.item_ids)
        service_state(request).metrics.candidates.observe(len(body.item_ids))

        def call() -> RerankResult:
            return reranker.rerank(
                body.query,
                body.item_ids,
                features=body.features,
                first_stage_scores=body.first_stage_scores,
                modality_scores=body.modality_scores,
                top_k=body.top_k,
                feature_names=body.feature_names,
            )

        # Given features of a cached query cost a fraction of a millisecond: run them on
        # the event loop; anything that encodes a query or reads the index goes to a thread.
        if body.features is not None and reranker.is_cached(body.query):
            result = call()
        else:
            result = await anyio.to_thread.run_sync(call)
        return _response(request, result)

    @app.post("/search", response_model=RankResponse, responses=errors)
    def search(body: SearchRequest, request: Request) -> RankResponse:
        """Retrieve with the policy's per-query fusion weights, re-rank, return the top."""
        reranker = _serving(request)
        result = reranker.search(body.query, body.k, body.top_k)
        request.state.k = result.n_candidates
        service_state(request).metrics.candidates.observe(result.n_candidates)
        return _response(request, result)

    @app.post("/noop", include_in_schema=False)
    async def noop(body: RerankRequest, request: Request) -> dict[str, Any]:
        """Parses a /rerank body and answers without re-ranking: the framework's floor."""
        reranker = _serving(request)
        request.state.k = len(body.item_ids)
        return {"request_id": request.state.request_id, "policy_version": reranker.version}

    @app.get("/healthz", response_model=HealthResponse)
    def healthz(request: Request) -> HealthResponse:
        """Liveness, and what is serving."""
        state = service_state(request)
        reranker = _serving(request)
        return HealthResponse(
            status="ok",
            policy_name=reranker.name,
            policy_kind=reranker.policy.kind,
            policy_version=reranker.version,
            engine=reranker.engine,
            modality_names=list(reranker.policy.modality_names),
            feature_names=list(reranker.policy.feature_names),
            search=reranker.retriever is not None,
            uptime_s=round(time.time() - state.started, 3),
        )

    @app.get("/metrics")
    def metrics(request: Request) -> Response:
        """Prometheus metrics: requests, latency histograms, errors, the policy."""
        data = generate_latest(service_state(request).metrics.registry)
        return Response(data, media_type=CONTENT_TYPE_LATEST)

    @app.post("/admin/reload", response_model=HealthResponse, responses=errors)
    async def reload(request: Request, body: ReloadRequest | None = None) -> HealthResponse:
        """Load a policy (default: the configured one, re-read) and swap it in; a policy
        that fails to load leaves the old one serving (HTTP 422)."""
        state = service_state(request)
        if not state.config.admin or (request.client and request.client.host not in LOOPBACK):
            raise HTTPException(403, detail="reload is allowed from loopback only")
        path = None if body is None else body.path
        try:
            fresh = await anyio.to_thread.run_sync(state.holder.reload, path)
        except ValueError as error:
            state.metrics.reloads.labels("failed").inc()
            logger.warning("reload of %s failed, old policy keeps serving: %s", path, error)
            raise RequestError("path", str(error)) from None
        state.metrics.reloads.labels("ok").inc()
        state.metrics.serving(fresh)
        return healthz(request)


def _error(request: Request, status: int, items: list[tuple[str, str]], kind: str) -> JSONResponse:
    info = request.scope.setdefault("state", {})
    info["error"] = kind
    body = ErrorResponse(
        request_id=info.get("request_id", ""),
        policy_version=str(info.get("policy_version", "")),
        detail=[ErrorItem(field=f, message=m) for f, m in items],
    )
    return JSONResponse(body.model_dump(), status_code=status)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text or "body"


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        items = [(_field(tuple(e["loc"])), e["msg"]) for e in error.errors()]
        return _error(request, 422, items, "validation")

    @app.exception_handler(RequestError)
    async def bad_request(request: Request, error: RequestError) -> JSONResponse:
        return _error(request, 422, [(error.field, error.message)], "validation")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        where = "body" if error.status_code == 413 else "request"
        kind = "too_large" if error.status_code == 413 else str(error.status_code)
        return _error(request, error.status_code, [(where, str(error.detail))], kind)

    @app.exception_handler(ValueError)
    async def value_error(request: Request, error: ValueError) -> JSONResponse:
        return _error(request, 422, [("request", str(error))], "validation")
