"""Request and response bodies of the HTTP service (pydantic: the service's edge).

Candidates travel as columns (``item_ids``, ``features``, ...), which is what
:meth:`~fusionrank.service.reranker.Reranker.rerank` takes. Types are strict (``top_k``
``"2"`` or ``true`` is refused, not converted; integers are accepted as floats); NaN and
infinity are refused while parsing (HTTP 422 naming the field), the rest of the checks
(the query length, lengths against K and the policy's features, duplicates, unknown ids,
the candidate limit) in the re-ranker.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class RerankRequest(BaseModel):
    """``POST /rerank``: the caller's candidates for one query."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "query": "red cotton shirt",
                    "item_ids": ["SW000017", "SW000342", "SW001201"],
                    "top_k": 2,
                }
            ]
        },
    )

    query: str = Field(..., min_length=1, description="The query text.")
    item_ids: list[str] = Field(..., description="K candidate ids, each once.")
    features: list[list[float]] | None = Field(
        None,
        description="K rows of the policy's features (GET /healthz lists them; "
        "fused_score may be left out); None: catalog items, features computed here.",
    )
    feature_names: list[str] | None = Field(
        None, description="Names of the feature columns, any order; None: the policy's order."
    )
    first_stage_scores: list[float] | None = Field(
        None,
        description="K first-stage scores: the candidates' order before re-ranking "
        "(None: by fused score).",
    )
    modality_scores: list[list[float]] | None = Field(
        None, description="K rows of per-modality scores (modality order of /healthz)."
    )
    top_k: int | None = Field(None, ge=1, description="Results to return.")


class SearchRequest(BaseModel):
    """``POST /search``: retrieve with the learned fusion weights, then re-rank."""

    model_config = _STRICT

    query: str = Field(..., min_length=1, description="The query text.")
    k: int | None = Field(None, ge=1, description="Candidates retrieved and re-ranked.")
    top_k: int | None = Field(None, ge=1, description="Results to return.")


class ReloadRequest(BaseModel):
    """``POST /admin/reload``: load a policy (default: the one configured) and swap it in."""

    model_config = _STRICT

    path: str | None = Field(
        None,
        max_length=4096,
        description="A policy name in the run's policies/ folder, or a folder inside "
        "service.reload_dirs; None: the configured policy, re-read.",
    )


class RankedItem(BaseModel):
    item_id: str
    score: float
    rank: int = Field(..., description="1-based.")


class RankResponse(BaseModel):
    """The answer of ``/rerank`` and ``/search``."""

    request_id: str
    policy_name: str
    policy_version: str
    n_candidates: int
    fusion_weights: dict[str, float] | None
    items: list[RankedItem]


class HealthResponse(BaseModel):
    status: str
    policy_name: str
    policy_kind: str
    policy_version: str
    engine: str
    text_encoder: str | None = Field(..., description="The query text encoder, or None.")
    modality_names: list[str]
    feature_names: list[str]
    search: bool = Field(..., description="Whether /search and catalog ids are available.")
    admin: bool = Field(..., description="Whether /admin/* is on (a token is configured).")
    uptime_s: float


class ErrorItem(BaseModel):
    field: str
    message: str


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer (a 503 also has ``Retry-After``, a 401 ``WWW-Authenticate``)."""

    request_id: str
    policy_version: str
    detail: list[ErrorItem]
