"""What every router of the service shares: the app's state, the serving re-ranker of a
request, and the response bodies."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from fusionrank.service.reranker import Reranker, RerankResult
from fusionrank.service.schemas import ErrorResponse, RankedItem, RankResponse
from fusionrank.service.state import ServiceState

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse} for status in (401, 403, 408, 409, 413, 422, 503)
}


def service_state(request: Request) -> ServiceState:
    """The app's :class:`ServiceState` (set by its lifespan)."""
    return request.app.state.service


def serving(request: Request) -> Reranker:
    """The re-ranker this request uses from start to end (a reload does not change it)."""
    reranker = service_state(request).holder.current
    request.state.policy_version = reranker.version
    return reranker


def rank_response(request: Request, result: RerankResult) -> RankResponse:
    """The ``/rerank`` and ``/search`` answer of a result."""
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
