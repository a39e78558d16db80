"""The scoring engine: a neural policy's exported scorer (onnxruntime, or torch), or the
policy's own ``scores``; and the catalog id lookup that catalog-id re-ranks need."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from fusionrank.service.inputs import RequestError
from fusionrank.types import CandidateBatch, Query

if TYPE_CHECKING:
    from fusionrank.agents.policy import Policy
    from fusionrank.retrieval.retriever import Retriever

Scorer = Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray]
"""``(features f32 (B, K, F), mask bool (B, K), query_features f32 (B, Dq) | None) ->
scores f32 (B, K)``: :class:`~fusionrank.service.export.OnnxScorer` or ``TorchScorer``."""


class ScoringEngine:
    """Scores candidates with the fast scorer of a neural policy, else its ``scores``.

    Args:
        policy: The policy.
        scorer: Its exported scorer, or None (the policy's ``scores``).
        n_catalog: Items in the retriever's catalog (0 without one): unseen items get
            item indices past it.
    """

    def __init__(self, policy: Policy, scorer: Scorer | None, n_catalog: int) -> None:
        self.policy = policy
        self.scorer = scorer
        self.n_catalog = n_catalog

    def score(self, batch: CandidateBatch, query_features: np.ndarray | None) -> np.ndarray:
        """float64 (B, K) scores of a candidate batch (``-inf`` at padding)."""
        if self.scorer is not None:
            return self.scorer(batch.features, batch.mask, query_features).astype(np.float64)
        return np.asarray(self.policy.scores(batch, query_features), dtype=np.float64)

    def score_rows(
        self,
        query: Query,
        values: np.ndarray,
        index: np.ndarray,
        modal: np.ndarray | None,
        query_features: np.ndarray | None,
    ) -> np.ndarray:
        """float64 (K,) scores of one query's candidates in slot order.

        Args:
            query: The query.
            values: float32 (K, F) features.
            index: int64 (K,): catalog indices, -1 for unseen items.
            modal: float32 (K, M) per-modality scores, or None.
            query_features: float32 (1, Dq), or None.
        """
        k = values.shape[0]
        mask = np.ones((1, k), dtype=bool)
        if self.scorer is not None:
            return self.scorer(values[None], mask, query_features)[0].astype(np.float64)
        unseen = index < 0
        slots = index.copy()
        slots[unseen] = self.n_catalog + np.arange(int(unseen.sum()))
        m = len(self.policy.modality_names)
        batch = CandidateBatch(
            queries=(query,),
            item_index=slots[None, :],
            modality_scores=(np.zeros((k, m), np.float32) if modal is None else modal)[None],
            features=values[None],
            mask=mask,
            modality_names=self.policy.modality_names,
            feature_names=self.policy.feature_names,
        )
        return self.score(batch, query_features)[0]

    def score_each(
        self,
        query: Query,
        values: np.ndarray,
        index: np.ndarray,
        modal: np.ndarray | None,
        query_features: np.ndarray | None,
    ) -> np.ndarray:
        """float64 (K,): each candidate scored in a list of its own (one batched call), to
        find the rows that make a whole list's scores non-finite."""
        k = values.shape[0]
        qf = None if query_features is None else np.repeat(query_features, k, axis=0)
        if self.scorer is not None:
            mask = np.ones((k, 1), dtype=bool)
            return self.scorer(values[:, None], mask, qf)[:, 0].astype(np.float64)
        m = len(self.policy.modality_names)
        slots = np.where(index < 0, self.n_catalog, index)
        batch = CandidateBatch(
            queries=(query,) * k,
            item_index=slots[:, None],
            modality_scores=(np.zeros((k, m), np.float32) if modal is None else modal)[:, None],
            features=values[:, None],
            mask=np.ones((k, 1), dtype=bool),
            modality_names=self.policy.modality_names,
            feature_names=self.policy.feature_names,
        )
        return self.score(batch, qf)[:, 0]


class CatalogIds:
    """Item id -> catalog index of the retriever's catalog.

    A dict read through ``map`` in C: for the K <= 1,000 ids of a request it is ~50x
    faster than ``pandas.Index.get_indexer``, whose setup dominates at this size.

    Args:
        retriever: The run's retriever, or None (every id is unseen).
    """

    def __init__(self, retriever: Retriever | None) -> None:
        ids = [] if retriever is None else [str(i) for i in retriever.item_ids]
        self._index = {item: n for n, item in enumerate(ids)}
        self.size = len(ids)

    def lookup(self, ids: Sequence[str]) -> np.ndarray:
        """int64 (K,): catalog indices, -1 for ids not in the catalog."""
        found = map(self._index.get, ids, itertools.repeat(-1))
        return np.fromiter(found, dtype=np.int64, count=len(ids))

    def require(self, ids: Sequence[str]) -> np.ndarray:
        """int64 (K,) catalog indices; raise naming the ids not in the catalog."""
        index = self.lookup(ids)
        unknown = [ids[int(i)] for i in np.flatnonzero(index < 0)]
        if unknown:
            raise RequestError(
                "item_ids",
                f"{len(unknown)} id(s) are not in the catalog: {unknown[:5]}; give their "
                "features, or drop them",
            )
        return index
