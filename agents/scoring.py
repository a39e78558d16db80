"""The retrieve-fuse-score path: a policy's fusion weights fuse the retriever's
candidates, its scorer ranks them. Evaluation, the envs' policies and the service's
``/search`` all go through :func:`score_candidates`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fusionrank.agents.policy import Policy, check_retriever, ranking_from_scores
from fusionrank.types import CandidateBatch

if TYPE_CHECKING:
    from fusionrank.retrieval.pool import CandidatePool
    from fusionrank.retrieval.retriever import Retriever
    from fusionrank.types import Query


Scorer = Callable[[CandidateBatch, "np.ndarray | None"], np.ndarray]
"""``(candidates, query_features f32 (B, Dq)) -> scores (B, K)``: ``Policy.scores`` or a
faster engine that gives the same scores (the service's ONNX scorer)."""


@dataclass(frozen=True, eq=False)
class RankedCandidates:
    """One pass of the retrieve-fuse-score path.

    Args:
        batch: The fused candidates, B lists of k.
        query_features: float32, shape (B, Dq).
        fusion_weights: float64, shape (B, M): the weights the candidates were fused with.
        scores: float64, shape (B, k); ``-inf`` at padding.
        ranking: int64, shape (B, k): ranked item indices, ``PAD`` past a short list.
    """

    batch: CandidateBatch
    query_features: np.ndarray
    fusion_weights: np.ndarray
    scores: np.ndarray
    ranking: np.ndarray


def score_candidates(
    policy: Policy,
    retriever: Retriever,
    queries: Sequence[Query],
    k: int,
    query_features: np.ndarray | None = None,
    scorer: Scorer | None = None,
    pool: CandidatePool | None = None,
) -> RankedCandidates:
    """Retrieve with the policy's fusion weights, then score and rank: the one place the
    two stages meet (evaluation, the envs' policies and the service's ``/search``).

    ``query_features = retriever.query_features``, ``weights = policy.weights_for``,
    ``batch = fuse(retriever.pool(queries), weights, k)``, ``scores = scorer(batch, qf)``.

    Args:
        policy: The policy.
        retriever: A retriever with the policy's modality and feature names.
        queries: B queries.
        k: Candidates per query, >= 1.
        query_features: float32 (B, Dq) already computed (e.g. cached); None: computed.
        scorer: Scores the batch in place of ``policy.scores`` (same scores).
        pool: ``retriever.pool(queries)`` already computed (e.g. cached); None: computed.
    """
    from fusionrank.retrieval.pool import fuse

    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    check_retriever(policy, retriever)
    qf = retriever.query_features(queries) if query_features is None else query_features
    weights = policy.weights_for(queries, qf, retriever)
    assert weights is not None, "weights_for falls back on the retriever's defaults"
    batch = fuse(retriever.pool(queries) if pool is None else pool, weights, k)
    scores = np.asarray((scorer or policy.scores)(batch, qf), dtype=np.float64)
    return RankedCandidates(batch, qf, weights, scores, ranking_from_scores(scores, batch))


def rank_candidates(
    policy: Policy, retriever: Retriever, queries: Sequence[Query], k: int
) -> tuple[CandidateBatch, np.ndarray]:
    """:func:`score_candidates`' fused candidates (B, k) and int64 (B, k) ranked item
    indices, ``PAD`` past the end of a short list."""
    ranked = score_candidates(policy, retriever, queries, k)
    return ranked.batch, ranked.ranking
