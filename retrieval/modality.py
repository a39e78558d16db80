"""A dense modality: item vectors, their FAISS index, and a query encoder.

Besides the index's top-k, a modality gives each query's exact score moments over the
whole catalog, which normalise its scores without looking at any candidate list:
with item vectors ``x_d``, their mean ``mu`` and covariance ``Sigma``, a query ``q`` scores
the catalog with mean ``q . mu`` and variance ``q^T Sigma q``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fusionrank.retrieval.index import search

logger = logging.getLogger(__name__)

PAIR_CHUNK = 65_536
"""Pairs scored per step of :meth:`DenseModality.pair_scores` (bounds memory)."""


@dataclass(frozen=True, eq=False)
class Hits:
    """One modality's search results for U queries.

    Args:
        scores: float32, shape (U, k): best first; ``-inf`` past the last hit.
        items: int64, shape (U, k): item indices; ``-1`` past the last hit.
        mean: float64, shape (U,): the query's mean score over the whole catalog.
        std: float64, shape (U,): its standard deviation.
    """

    scores: np.ndarray
    items: np.ndarray
    mean: np.ndarray
    std: np.ndarray


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest entries per row, best first (ties: lower index first).

    Args:
        scores: float, shape (U, n).
        k: 1 <= k <= n.

    Returns:
        float32 scores and int64 columns, shape (U, k).
    """
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    values = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -values), axis=1)
    columns = np.take_along_axis(part, order, axis=1)
    return np.take_along_axis(values, order, axis=1).astype(np.float32), columns.astype(np.int64)


class DenseModality:
    """Item vectors in a FAISS index, searched with encoded query texts.

    Args:
        name: The modality's name (``text`` or ``image``).
        vectors: float32, shape (n_items, dim), L2-normalised.
        index: A faiss index holding ``vectors`` in the same order.
        encode: Query texts -> float32 (U, dim), L2-normalised.
    """

    def __init__(
        self,
        name: str,
        vectors: np.ndarray,
        index: Any,
        encode: Callable[[Sequence[str]], np.ndarray],
    ) -> None:
        if index.ntotal != vectors.shape[0]:
            raise ValueError(
                f"{name} index holds {index.ntotal} vectors for {vectors.shape[0]} items; "
                "rebuild it with `fusionrank index build`"
            )
        self.name = name
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.index = index
        self._encode = encode
        x = self.vectors.astype(np.float64)
        self.mean = x.mean(axis=0)
        self.covariance = (x.T @ x) / max(len(x), 1) - np.outer(self.mean, self.mean)

    @property
    def n_items(self) -> int:
        return int(self.vectors.shape[0])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors, float32 (U, dim)."""
        return self._encode(texts)

    def moments(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact mean and standard deviation of each query's scores over all items.

        Args:
            queries: float32, shape (U, dim).

        Returns:
            float64 (U,) each: ``q . mu`` and ``sqrt(q^T Sigma q)``.
        """
        q = queries.astype(np.float64)
        variance = np.einsum("ud,ud->u", q @ self.covariance, q)
        return q @ self.mean, np.sqrt(np.maximum(variance, 0.0))

    def search(self, queries: np.ndarray, k: int) -> Hits:
        """The index's top-``k`` and the score moments."""
        scores, items = search(self.index, queries, k)
        mean, std = self.moments(queries)
        return Hits(scores=scores, items=items, mean=mean, std=std)

    def pair_scores(self, queries: np.ndarray, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Exact inner products from the stored vectors, float32 (n,).

        Args:
            queries: float32, shape (U, dim).
            rows: int64, shape (n,): a row of ``queries`` per pair.
            items: int64, shape (n,): an item index per pair.
        """
        out = np.empty(len(rows), dtype=np.float32)
        for start in range(0, len(rows), PAIR_CHUNK):
            stop = start + PAIR_CHUNK
            out[start:stop] = np.einsum(
                "nd,nd->n", queries[rows[start:stop]], self.vectors[items[start:stop]]
            )
        return out
