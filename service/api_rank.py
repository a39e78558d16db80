"""``POST /rerank``, ``POST /search`` and ``POST /noop`` (the framework's floor).

A request whose query is cached (and whose candidates are in its pool, or come with
features) costs a fraction of a millisecond and runs on the event loop. Any other is
admitted under the load-shedding limits (:mod:`fusionrank.service.shedding`), awaits its
query's retrieval, batched with the other new queries (:mod:`fusionrank.service.prefetch`),
and then runs on the event loop too, or in the worker pool when it still needs the index
(catalog ids outside the query's pool).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import APIRouter, Request

from fusionrank.service.api_common import ERRORS, rank_response, service_state, serving
from fusionrank.service.reranker import Reranker
from fusionrank.service.schemas import RankResponse, RerankRequest, SearchRequest
from fusionrank.service.state import ServiceState

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
    fast = partial(reranker.is_fast, body.query, body.item_ids, body.features is not None)
    if fast():
        result = call()
    else:
        reranker.precheck(body.query, body.item_ids)
        async with state.admission.admit():
            await _prefetch(state, reranker, body.query)
            result = call() if fast() else await state.admission.run(call)
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
        async with state.admission.admit():
            await _prefetch(state, reranker, body.query)
            result = call() if reranker.is_cached(body.query) else await state.admission.run(call)
    request.state.k = result.n_candidates
    state.metrics.candidates.observe(result.n_candidates)
    return rank_response(request, result)


async def _prefetch(state: ServiceState, reranker: Reranker, text: str) -> None:
    """Have the query's retrieval cached (batched with the other new queries)."""
    cache = reranker.contexts.retrieval
    if cache is not None:
        await state.prefetch.ensure(cache, text)


@router.post("/noop", include_in_schema=False)
async def noop(body: RerankRequest, request: Request) -> dict[str, Any]:
    """Parses a /rerank body and answers without re-ranking: the framework's floor."""
    reranker = serving(request)
    request.state.k = len(body.item_ids)
    return {"request_id": request.state.request_id, "policy_version": reranker.version}
