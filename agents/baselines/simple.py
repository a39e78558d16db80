"""Baselines without learning: the retriever's default order and the logging policy.

* :class:`DefaultOrder` keeps the retriever's default fusion weights and ranks by the
  fused score, i.e. it shows the first stage's order unchanged.
* :class:`LoggingPolicy` imitates what the logging system showed. Per query (matched by
  its text) it scores each logged item by its mean reciprocal logged position,
  ``mrr(q, d) = mean over impressions of 1 / (page * L + rank + 1)`` (1-based position
  in the whole result list), and ranks logged items above unlogged ones; unlogged items
  (and queries the logs never had) keep the fused-score order. The mean reciprocal
  position is chosen over the most frequent order because a stochastic logging policy
  rarely repeats a whole order, while each item's typical position is well estimated
  from a few impressions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from fusionrank.agents.baselines.common import fused_scores
from fusionrank.agents.policy import Policy, policy_args
from fusionrank.io import atomic_path
from fusionrank.types import CandidateBatch, LoggedPages

logger = logging.getLogger(__name__)

LOGGED_FILE = "logged_positions.npz"


class DefaultOrder(Policy):
    """The retriever's default fusion weights and fused-score order (no learning).

    ``fusion_weights`` is None (the retriever's configured weights) and
    ``scores = fused_score`` (``-inf`` at padding).
    """

    kind: ClassVar[str] = "default-order"

    def scores(
        self, candidates: CandidateBatch, query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 (B, K): the fused score, ``-inf`` where ``candidates.mask`` is False."""
        self.check_candidates(candidates)
        return fused_scores(candidates)

    @classmethod
    def create(cls, modality_names: Sequence[str], feature_names: Sequence[str]) -> DefaultOrder:
        """The policy for a retriever's modality and feature names."""
        return cls("default-order", modality_names, feature_names)


class LoggingPolicy(Policy):
    """The logging system's order: logged items by mean reciprocal logged position first,
    then the rest by fused score (see the module docstring).

    Args:
        query_texts: object, shape (U,): the logged query texts, distinct.
        keys: int64, shape (n,), sorted: ``text_row * n_items + item_index`` of each
            logged (query, item) pair.
        mrr: float64, shape (n,): each pair's mean reciprocal logged position, in (0, 1].
        n_items: Size of the item index space of the logs (the catalog).
        **kwargs: :class:`Policy` arguments.
    """

    kind: ClassVar[str] = "logging"

    def __init__(
        self,
        query_texts: np.ndarray,
        keys: np.ndarray,
        mrr: np.ndarray,
        n_items: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.query_texts = np.asarray(query_texts, dtype=object)
        self.keys = np.asarray(keys, dtype=np.int64)
        self.mrr = np.asarray(mrr, dtype=np.float64)
        self.n_items = int(n_items)
        self._texts = pd.Index(self.query_texts.astype(str))

    @classmethod
    def fit(
        cls,
        pages: LoggedPages,
        modality_names: Sequence[str],
        feature_names: Sequence[str],
    ) -> LoggingPolicy:
        """Mean reciprocal logged position of every logged (query text, item) pair.

        Args:
            pages: Logged pages whose item indices are the retriever's (catalog) indices.
            modality_names, feature_names: The retriever's.
        """
        if len(pages) == 0:
            raise ValueError("the logs have no pages; the logging policy needs logged pages")
        texts, text_row = np.unique(pages.query_texts.astype(str), return_inverse=True)
        n_items, n_ranks = len(pages.item_ids), pages.slate_size
        shown = pages.shown
        position = pages.page[:, None] * n_ranks + np.arange(1, n_ranks + 1)[None, :]
        row = np.broadcast_to(text_row[pages.query][:, None], shown.shape)[shown]
        keys = row * n_items + pages.item_index[shown]
        unique, inverse = np.unique(keys, return_inverse=True)
        total = np.bincount(inverse, weights=1.0 / position[shown], minlength=len(unique))
        count = np.bincount(inverse, minlength=len(unique))
        logger.info("logging policy: %d (query, item) pairs of %d queries", len(unique), len(texts))
        return cls(
            query_texts=texts.astype(object),
            keys=unique.astype(np.int64),
            mrr=total / count,
            n_items=n_items,
            name="logging",
            modality_names=modality_names,
            feature_names=feature_names,
            config={"n_items": n_items, "score": "mean reciprocal logged position"},
            metrics={"pairs": len(unique), "queries": len(texts)},
        )

    def logged_mrr(self, candidates: CandidateBatch) -> np.ndarray:
        """float64 (B, K): each candidate's mean reciprocal logged position, NaN if never
        logged for its query (or padding)."""
        rows = self._texts.get_indexer(pd.Index([q.text for q in candidates.queries]))
        items = candidates.item_index
        valid = (rows[:, None] >= 0) & candidates.mask & (items < self.n_items)
        wanted = rows[:, None] * self.n_items + items
        at = np.minimum(np.searchsorted(self.keys, wanted), max(len(self.keys) - 1, 0))
        found = valid & (self.keys[at] == wanted) if len(self.keys) else np.zeros_like(valid)
        return np.where(found, self.mrr[at] if len(self.keys) else 0.0, np.nan)

    def scores(
        self, candidates: CandidateBatch, query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 (B, K): ``top + mrr`` for logged items, where ``top`` is 1 + the row's
        largest fused score (so every logged item ranks first), else the fused score;
        ``-inf`` at padding."""
        self.check_candidates(candidates)
        fused = fused_scores(candidates)
        finite = np.where(np.isfinite(fused), fused, -np.inf)
        top = np.max(finite, axis=1, initial=0.0)[:, None] + 1.0
        mrr = self.logged_mrr(candidates)
        return np.where(np.isnan(mrr), fused, top + np.nan_to_num(mrr))

    def _save_state(self, folder: Path) -> None:
        with atomic_path(folder / LOGGED_FILE) as tmp, tmp.open("wb") as handle:
            np.savez(handle, query_texts=self.query_texts.astype(str), keys=self.keys, mrr=self.mrr)

    @classmethod
    def _from_saved(cls, folder: Path, meta: dict[str, Any]) -> LoggingPolicy:
        with np.load(folder / LOGGED_FILE, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        return cls(
            query_texts=arrays["query_texts"].astype(object),
            keys=arrays["keys"],
            mrr=arrays["mrr"],
            n_items=meta["config"]["n_items"],
            **policy_args(meta),
        )
