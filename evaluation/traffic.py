"""Simulated traffic: which queries arrive, and how relevance is judged.

Both roles are small and independent of any particular user model, so that an A/B on the
fitted simulator and one on ShopWorld's hidden truth draw the same kind of traffic. The
traffic itself (:class:`~fusionrank.simulator.traffic.QuerySampler`) is the simulator's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np

from fusionrank.retrieval.metrics import dcg

logger = logging.getLogger(__name__)

Ranker = Callable[[np.ndarray], np.ndarray]
"""An arm: ``rank(query_ids)`` maps object (B,) query ids to int64 (B, R) item indices,
best first, ``PAD`` past the end; successive blocks of ``slate_size`` are the pages."""

Reformulator = Callable[[np.ndarray], np.ndarray]
"""``reformulate(query_ids)``: object (B,) -> object (B,), the query a user types next.
Deterministic, so both arms of an A/B see the same reformulations."""


@runtime_checkable
class RelevanceJudge(Protocol):
    """Graded relevance of (query, item) pairs, e.g. ShopWorld's hidden truth or labels."""

    def grades(self, query_ids: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        """float64, shape (B, L): grades of the items (``PAD`` gets 0).

        Args:
            query_ids: object, shape (B,).
            item_index: int64, shape (B, L).
        """
        ...

    def ideal_dcg(self, query_ids: np.ndarray, k: int) -> np.ndarray:
        """float64, shape (B,): DCG@k of the best possible ranking of each query."""
        ...


def ndcg(
    judge: RelevanceJudge, query_ids: np.ndarray, item_index: np.ndarray, k: int
) -> np.ndarray:
    """nDCG@k of rankings, float64 shape (B,); 0 for a query without any relevant item.

    Args:
        judge: The relevance judge.
        query_ids: object, shape (B,).
        item_index: int64, shape (B, R), best first.
    """
    gains = dcg(judge.grades(query_ids, item_index[:, :k]), k)
    ideal = judge.ideal_dcg(query_ids, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ideal > 0, gains / ideal, 0.0)
