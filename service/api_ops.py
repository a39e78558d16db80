"""``GET /healthz`` and ``GET /metrics``: on the event loop, never behind a re-rank."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from fusionrank.service.api_common import service_state, serving
from fusionrank.service.schemas import HealthResponse

router = APIRouter()


def health(request: Request) -> HealthResponse:
    """What is serving."""
    state = service_state(request)
    reranker = serving(request)
    return HealthResponse(
        status="ok",
        policy_name=reranker.name,
        policy_kind=reranker.policy.kind,
        policy_version=reranker.version,
        engine=reranker.engine,
        text_encoder=reranker.model.text_encoder,
        modality_names=list(reranker.policy.modality_names),
        feature_names=list(reranker.policy.feature_names),
        search=reranker.retriever is not None,
        admin=state.admin.enabled,
        uptime_s=round(time.time() - state.started, 3),
    )


@router.get("/healthz", response_model=HealthResponse)
async def healthz(request: Request) -> HealthResponse:
    """Liveness, and what is serving."""
    return health(request)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics: requests, latency histograms, errors, reloads, the policy."""
    state = service_state(request)
    retrieval = state.holder.current.contexts.retrieval
    state.metrics.pending.set(state.admission.pending)
    state.metrics.shed.set(state.admission.shed + state.prefetch.shed)
    if retrieval is not None:
        state.metrics.context_batches.set(retrieval.batches)
        state.metrics.context_queries.set(retrieval.queries)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
