"""Features of (query, item) pairs and of queries, shared by search, fuse and
``pair_features`` so that the three agree on every definition.

Pair features, per modality ``m`` (``text``, ``image``, ``lexical``; those built):

* ``{m}_score``: the exact modality score (cosine from the stored vectors; BM25);
* ``{m}_z``: ``(score - mean_m(q)) / std_m(q)``, standardised by the query's score
  moments over the whole catalog;
* ``{m}_recip_rank``: ``1 / rank`` in the modality's own top-``k_per_modality`` for the
  query, 0 outside it;

then ``coverage`` (share of the query's distinct words in the item's text), ``log_price``
(``ln(1 + price)``, 0 without prices), ``price_z`` (log price standardised within the
item's category) and ``fused_score`` (the fusion score under the weights used).

None depends on the candidate list a pair happens to be in: the moments and ranks are
the query's over the whole catalog, so a logged page and a fused list give a pair the
same features. Only ``fused_score`` depends on the fusion weights (``pair_features``
uses the configured default weights); the position in a fused list is its slot order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from fusionrank.retrieval.modality import Hits

Z_FLOOR = 1e-6
"""Smallest standard deviation used in z-scores (a query that scores all items alike)."""


def pair_feature_names(modality_names: Sequence[str]) -> tuple[str, ...]:
    per_modality = [f"{m}_{kind}" for m in modality_names for kind in ("score", "z", "recip_rank")]
    return (*per_modality, "coverage", "log_price", "price_z", "fused_score")


def query_feature_names(modality_names: Sequence[str], pca_dim: int) -> tuple[str, ...]:
    pca = [f"query_pca_{i}" for i in range(pca_dim)]
    stats = [f"{m}_{kind}" for m in modality_names for kind in ("top_score", "top_z", "gap_z")]
    overlaps = [f"overlap_{a}_{b}" for a, b in combinations(modality_names, 2)]
    return (*pca, *stats, *overlaps, "log_n_words", "known_word_share")


@dataclass(frozen=True, eq=False)
class ItemAttributes:
    """Per-item features from the catalog.

    Args:
        log_price: float32, shape (n_items,): ``ln(1 + price)``; 0 without prices.
        price_z: float32, shape (n_items,): ``log_price`` standardised within the item's
            category (the whole catalog without categories); 0 without prices.
    """

    log_price: np.ndarray
    price_z: np.ndarray

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> ItemAttributes:
        n = len(table)
        if "price" not in table.columns:
            zeros = np.zeros(n, dtype=np.float32)
            return cls(log_price=zeros, price_z=zeros.copy())
        log_price = pd.Series(np.log1p(pd.to_numeric(table["price"]).to_numpy(np.float64)))
        groups = (
            table["category"].astype(str).to_numpy()
            if "category" in table.columns
            else np.zeros(n, dtype=np.int64)
        )
        mean = log_price.groupby(groups).transform("mean")
        std = log_price.groupby(groups).transform("std", ddof=0).clip(lower=Z_FLOOR)
        return cls(
            log_price=log_price.to_numpy(np.float32),
            price_z=((log_price - mean) / std).to_numpy(np.float32),
        )


def ranks_in_hits(hits: Hits, rows: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
    """1-based rank of each pair's item in its query's hits, 0 when absent.

    Args:
        hits: One modality's hits for U queries, items (U, k).
        rows: int64, shape (n,): the query row of each pair.
        items: int64, shape (n,): the item of each pair.
        n_items: Catalog size (the key space is ``row * n_items + item``).

    Returns:
        int64, shape (n,).
    """
    u, k = hits.items.shape
    found = hits.items >= 0
    keys = (np.arange(u)[:, None] * n_items + hits.items)[found]
    ranks = np.broadcast_to(np.arange(1, k + 1), (u, k))[found]
    order = np.argsort(keys, kind="stable")
    keys, ranks = keys[order], ranks[order]
    wanted = rows * n_items + items
    at = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    hit = (keys[at] == wanted) if len(keys) else np.zeros(len(wanted), dtype=bool)
    return np.where(hit, ranks[at] if len(keys) else 0, 0).astype(np.int64)


def standardise(scores: np.ndarray, hits: Hits, rows: np.ndarray) -> np.ndarray:
    """z-scores of pairs, float32 (n,): ``(score - mean[row]) / max(std[row], floor)``."""
    return ((scores - hits.mean[rows]) / np.maximum(hits.std[rows], Z_FLOOR)).astype(np.float32)


def overlap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Share of common items between two top-k lists per row, float32 (U,).

    Args:
        a, b: int64, shape (U, k): item indices, ``-1`` for none; no repeats within a row.
    """
    both = np.sort(np.concatenate([a, b], axis=1), axis=1)
    common = ((both[:, 1:] == both[:, :-1]) & (both[:, 1:] >= 0)).sum(axis=1)
    return (common / max(a.shape[1], 1)).astype(np.float32)


def hit_statistics(hits: Hits, stats_k: int) -> np.ndarray:
    """Top score, top z-score and the z-score gap between ranks 1 and ``stats_k``.

    Returns:
        float32, shape (U, 3).
    """
    std = np.maximum(hits.std, Z_FLOOR)
    last = min(stats_k, hits.scores.shape[1]) - 1
    scores = np.where(np.isfinite(hits.scores), hits.scores, hits.mean[:, None])
    top_z = (scores[:, 0] - hits.mean) / std
    low_z = (scores[:, last] - hits.mean) / std
    return np.stack([scores[:, 0], top_z, top_z - low_z], axis=1).astype(np.float32)


def union_candidates(hit_items: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's distinct items across modalities, in modality then rank order.

    Args:
        hit_items: M arrays of int64, shape (U, k_m): item indices, ``-1`` for none.

    Returns:
        ``(items, mask)``: int64 (U, P) with ``-1`` padding, and bool (U, P).
    """
    candidates = np.concatenate(list(hit_items), axis=1)
    order = np.argsort(candidates, axis=1, kind="stable")
    ordered = np.take_along_axis(candidates, order, axis=1)
    first = np.ones_like(ordered, dtype=bool)
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    keep = np.empty_like(first)
    np.put_along_axis(keep, order, first & (ordered >= 0), axis=1)
    slots = np.argsort(~keep, axis=1, kind="stable")[:, : max(int(keep.sum(axis=1).max()), 1)]
    mask = np.take_along_axis(keep, slots, axis=1)
    items = np.where(mask, np.take_along_axis(candidates, slots, axis=1), -1)
    return items.astype(np.int64), mask
