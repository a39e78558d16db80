"""``POST /rerank``, ``POST /search`` and ``POST /noop`` (the framework's floor).

A request whose query is cached (and whose candidates are in its pool, or come with
features) costs a fraction of a millisecond and runs on the event loop; any other goes
through the load-shedding pool (:mod:`fusionrank.service.shedding`), where new queries
are encoded and searched in micro-batches.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request

from fusionrank.service.api_common import ERRORS, rank_response, service_state, serving
from fusionrank.service.schemas import RankResponse, RerankRequest, SearchRequest

router = APIRouter()


@router.post("/rerank", response_model=RankResponse, responses=ERRORS)
async def rerank(body: RerankRequest, request: Request) -> RankResponse:
    """Re-rank the caller's candidates (catalog ids, or any ids with features)."""
    state = service_state(request)
    reranker = serving(request)
    request.state.k = len(body.item_ids)
    state.metrics.candidates.observe(len(body.item_ids))
    call = partial(
        reranker.rerank,
        body.query,
        body.item_ids,
        features=body.features,
        first_stage_scores=body.first_stage_scores,
        modality_scores=body.modality_scores,
        top_k=body.top_k,
        feature_names=body.feature_names,
    )
    if reranker.is_fast(body.query, body.item_ids, body.features is not None):
        result = call()
    else:
        reranker.precheck(body.query, body.item_ids)
        result = await state.admission.run(call)
    return rank_response(request, result)


@router.post("/search", response_model=RankResponse, responses=ERRORS)
async def search(body: SearchRequest, request: Request) -> RankResponse:
    """Retrieve with the policy's per-query fusion weights, re-rank, return the top."""
    state = service_state(request)
    reranker = serving(request)
    call = partial(reranker.search, body.query, body.k, body.top_k)
    if reranker.is_cached(body.query):
        result = call()
    else:
        reranker.precheck(body.query)
        result = await state.admission.run(call)
    request.state.k = result.n_candidates
    state.metrics.candidates.observe(result.n_candidates)
    return rank_response(request, result)


@router.post("/noop", include_in_schema=False)
async def noop(body: RerankRequest, request: Request) -> dict[str, Any]:
    """Parses a /rerank body and answers without re-ranking: the framework's floor."""
    reranker = serving(request)
    request.state.k = len(body.item_ids)
    return {"request_id": request.state.request_id, "policy_version": reranker.version}
