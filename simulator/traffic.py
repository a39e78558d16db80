"""Which queries arrive: the traffic of simulated sessions, drawn from the logs' shares.

The envs, the baselines and evaluation draw sessions from the same :class:`QuerySampler`,
so that training and every A/B see the same kind of traffic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusionrank.types import LoggedPages


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
