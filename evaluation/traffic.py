"""Simulated traffic: which queries arrive, and how relevance is judged.

Both roles are small and independent of any particular user model, so that an A/B on the
fitted simulator and one on ShopWorld's hidden truth draw the same kind of traffic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from fusionrank.types import LoggedPages

logger = logging.getLogger(__name__)

Ranker = Callable[[np.ndarray], np.ndarray]
"""An arm: ``rank(query_ids)`` maps object (B,) query ids to int64 (B, R) item indices,
best first, ``PAD`` past the end; successive blocks of ``slate_size`` are the pages."""

Reformulator = Callable[[np.ndarray], np.ndarray]
"""``reformulate(query_ids)``: object (B,) -> object (B,), the query a user types next.
Deterministic, so both arms of an A/B see the same reformulations."""


@dataclass(frozen=True, eq=False)
class QuerySampler:
    """Queries drawn with their traffic share.

    Args:
        query_ids: object, shape (Q,).
        weights: float64, shape (Q,): non-negative, summing to 1.
    """

    query_ids: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        if self.query_ids.shape != self.weights.shape or self.query_ids.ndim != 1:
            raise ValueError(
                f"query_ids {self.query_ids.shape} and weights {self.weights.shape} must both"
                " be (Q,)"
            )
        if len(self.query_ids) == 0:
            raise ValueError("a query sampler needs at least one query")
        if np.any(self.weights < 0) or not np.isclose(self.weights.sum(), 1.0):
            raise ValueError("weights must be non-negative and sum to 1")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """object, shape (n,): n query ids drawn with replacement by weight."""
        return self.query_ids[rng.choice(len(self.query_ids), size=n, p=self.weights)]

    @classmethod
    def from_counts(cls, query_ids: np.ndarray, counts: np.ndarray) -> QuerySampler:
        counts = np.asarray(counts, dtype=np.float64)
        keep = counts > 0
        if not keep.any():
            raise ValueError("every query count is 0; there is no traffic to sample")
        return cls(np.asarray(query_ids, dtype=object)[keep], counts[keep] / counts[keep].sum())

    @classmethod
    def from_pages(cls, pages: LoggedPages) -> QuerySampler:
        """The logs' traffic: the query of each session's first logged page."""
        order = np.lexsort((pages.page, pages.timestamp, pages.session))
        session = pages.session[order]
        first = order[np.r_[True, session[1:] != session[:-1]]]
        counts = np.bincount(pages.query[first], minlength=len(pages.query_ids))
        return cls.from_counts(pages.query_ids, counts)


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


def dcg(grades: np.ndarray, k: int) -> np.ndarray:
    """DCG@k = sum_{r < k} (2^g_r - 1) / log2(r + 2), float64 shape (B,).

    Args:
        grades: float, shape (B, L), best-ranked first.
    """
    top = np.asarray(grades, dtype=np.float64)[:, :k]
    discount = 1.0 / np.log2(np.arange(top.shape[1]) + 2.0)
    return (np.expm1(top * np.log(2.0)) * discount).sum(axis=1)


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
