"""Retrieval metrics against graded relevance, per query, vectorised over a batch.

With ``g_r`` the grade of the item at rank ``r`` (1-based) of a retrieved list, an item
*relevant* when ``g >= relevant_grade``, and ``R`` the number of relevant catalog items:

* ``recall@k = |relevant in top k| / min(k, R)`` (capped, so a perfect list scores 1 even
  when more than ``k`` items are relevant);
* ``nDCG@k = DCG@k / IDCG@k`` with ``DCG@k = sum_{r <= k} (2^g_r - 1) / log2(r + 1)``
  and ``IDCG@k`` the DCG of the catalog's best ``k`` grades;
* ``MRR = 1 / (rank of the first relevant item)`` within the list, 0 without one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def dcg(grades: np.ndarray, k: int) -> np.ndarray:
    """DCG@k = sum_{r < k} (2^g_r - 1) / log2(r + 2), float64 shape (B,).

    Args:
        grades: float, shape (B, L), best-ranked first.
    """
    top = np.asarray(grades, dtype=np.float64)[:, :k]
    discount = 1.0 / np.log2(np.arange(top.shape[1]) + 2.0)
    return (np.expm1(top * np.log(2.0)) * discount).sum(axis=1)


def retrieval_metrics(
    grades: np.ndarray,
    ideal_grades: np.ndarray,
    n_relevant: np.ndarray,
    ks: Sequence[int] = (10, 100),
    relevant_grade: int = 3,
) -> dict[str, np.ndarray]:
    """Per-query recall@k, nDCG@k and MRR.

    Args:
        grades: int, shape (B, K): grade of each retrieved item, best first; 0 at padding.
        ideal_grades: int, shape (B, >= max(ks)): the catalog's grades sorted descending.
        n_relevant: int, shape (B,): relevant items in the catalog.
        ks: Cut-offs.
        relevant_grade: The lowest grade that counts as relevant.

    Returns:
        ``{"recall@k": ..., "ndcg@k": ..., "mrr": ...}``, float64 (B,) each; recall is NaN
        for a query without relevant items.
    """
    relevant = grades >= relevant_grade
    out: dict[str, np.ndarray] = {}
    for k in ks:
        found = relevant[:, :k].sum(axis=1)
        cap = np.minimum(k, n_relevant)
        out[f"recall@{k}"] = np.where(cap > 0, found / np.maximum(cap, 1), np.nan)
        ideal = dcg(ideal_grades, k)
        out[f"ndcg@{k}"] = np.where(ideal > 0, dcg(grades, k) / np.maximum(ideal, 1e-12), 0.0)
    first = np.argmax(relevant, axis=1)
    out["mrr"] = np.where(relevant.any(axis=1), 1.0 / (first + 1), 0.0)
    return out
