"""What the baselines share: the fused-score column, masking and the page reward."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fusionrank.retrieval.pool import FUSED_SCORE
from fusionrank.types import CandidateBatch, ExpectedOutcomes


def feature_column(candidates: CandidateBatch, name: str) -> np.ndarray:
    """One feature of every candidate, float64 (B, K).

    Raises:
        ValueError: If the batch has no feature of that name.
    """
    if name not in candidates.feature_names:
        raise ValueError(
            f"the candidates have no feature {name!r} (they have "
            f"{list(candidates.feature_names)}); use a batch from Retriever.search or fuse"
        )
    column = candidates.feature_names.index(name)
    return candidates.features[..., column].astype(np.float64)


def masked(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float64 (B, K): ``scores`` where ``mask`` (bool (B, K)) is True, ``-inf`` elsewhere."""
    return np.where(mask, np.asarray(scores, dtype=np.float64), -np.inf)


def fused_scores(candidates: CandidateBatch) -> np.ndarray:
    """The fused score of every candidate, float64 (B, K), ``-inf`` at padding."""
    return masked(feature_column(candidates, FUSED_SCORE), candidates.mask)


def page_reward(outcomes: ExpectedOutcomes, reward: Mapping[str, float]) -> np.ndarray:
    """Expected reward of each page, float64 (B,).

    ``reward = sum_name weight[name] * sum_r E[name]_r`` over the ranks ``r`` of the page,
    for ``name`` in purchases, revenue and clicks (each float64 (B, L) in ``outcomes``).
    """
    total = np.zeros(outcomes.clicks.shape[0])
    for name, weight in reward.items():
        total += weight * getattr(outcomes, name).sum(axis=1)
    return total
