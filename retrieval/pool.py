"""The precompute/fuse split: a :class:`CandidatePool` per query batch, and :func:`fuse`.

:meth:`Retriever.pool <fusionrank.retrieval.retriever.Retriever.pool>` searches every
modality once (faiss, encoders); :func:`fuse` then ranks the pooled candidates for any
fusion weights with numpy alone, cheap enough to call on every environment step.

Fusion scores (``w`` on the simplex, one row per query):

* ``weighted``: ``sum_m w_m * z_m``, where ``z_m = (s_m - mean_m(q)) / std_m(q)`` is the
  modality score standardised by the query's score moments over the whole catalog;
* ``rrf``: ``sum_m w_m / (rrf_k + rank_m)``, where ``rank_m`` is the 1-based rank in the
  modality's own top-``k_per_modality`` (a term is 0 for an item outside it).

Both are monotone in each modality's score, so weight 1 on one modality reproduces that
modality's ranking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from fusionrank.types import PAD, CandidateBatch, Query, _check_array, _check_shape

FUSED_SCORE = "fused_score"
SIMPLEX_TOLERANCE = 1e-3


@dataclass(frozen=True, eq=False)
class CandidatePool:
    """Every query's union of per-modality top-k, with all it takes to fuse them.

    Args:
        queries: B queries.
        item_index: int64, shape (B, P): pooled items, ``PAD`` where ``mask`` is False.
        modality_scores: float32, shape (B, P, M): exact score of each candidate in each
            modality (cosine for dense modalities, BM25 for ``lexical``).
        z_scores: float32, shape (B, P, M): scores standardised per query and modality.
        rrf_terms: float32, shape (B, P, M): ``1 / (rrf_k + rank_m)``, 0 outside the top-k.
        features: float32, shape (B, P, F - 1): the pair features of every candidate
            (``feature_names`` without the last, ``fused_score``, which :func:`fuse` adds).
        mask: bool, shape (B, P).
        modality_names: M names.
        feature_names: F names; the last is ``fused_score``.
        method: The default fusion method.
    """

    queries: tuple[Query, ...]
    item_index: np.ndarray
    modality_scores: np.ndarray
    z_scores: np.ndarray
    rrf_terms: np.ndarray
    features: np.ndarray
    mask: np.ndarray
    modality_names: tuple[str, ...]
    feature_names: tuple[str, ...]
    method: Literal["weighted", "rrf"] = "weighted"

    def __post_init__(self) -> None:
        _check_array("item_index", self.item_index, np.int64, 2)
        b, p = self.item_index.shape
        m = len(self.modality_names)
        if len(self.queries) != b:
            raise ValueError(f"queries has {len(self.queries)} entries for a batch of {b}")
        for name in ("modality_scores", "z_scores", "rrf_terms"):
            _check_array(name, getattr(self, name), np.float32, 3)
            _check_shape(name, getattr(self, name), (b, p, m))
        _check_array("features", self.features, np.float32, 3)
        _check_shape("features", self.features, (b, p, len(self.feature_names) - 1))
        _check_array("mask", self.mask, np.bool_, 2)
        _check_shape("mask", self.mask, (b, p))
        if self.feature_names[-1] != FUSED_SCORE:
            raise ValueError(f"the last feature name must be {FUSED_SCORE!r}")

    def __len__(self) -> int:
        return int(self.item_index.shape[0])

    @property
    def size(self) -> int:
        """P, the padded pool size."""
        return int(self.item_index.shape[1])


def check_weights(weights: np.ndarray, batch: int, modality_names: tuple[str, ...]) -> np.ndarray:
    """Validate fusion weights: float (B, M), finite, >= 0, rows summing to 1.

    Raises:
        ValueError: Naming the shape or the first bad row, and the fix.
    """
    weights = np.asarray(weights, dtype=np.float32)
    shape = (batch, len(modality_names))
    if weights.shape != shape:
        raise ValueError(
            f"fusion_weights must have shape {shape} (queries x modalities "
            f"{', '.join(modality_names)}), got {weights.shape}"
        )
    sums = weights.sum(axis=1)
    bad = ~np.isfinite(sums) | np.any(weights < 0, axis=1) | (np.abs(sums - 1) > SIMPLEX_TOLERANCE)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"fusion_weights row {row} is {weights[row].tolist()}: each row must be >= 0 "
            "and sum to 1; divide by its sum (or use a softmax)"
        )
    return weights


def fuse(
    pool: CandidatePool,
    fusion_weights: np.ndarray,
    k: int,
    method: Literal["weighted", "rrf"] | None = None,
) -> CandidateBatch:
    """Rank each query's pooled candidates by its fusion weights; keep the best ``k``.

    Pure numpy over the whole batch: no faiss, no encoder, no loop over queries.

    Args:
        pool: From ``Retriever.pool``.
        fusion_weights: float, shape (B, M), rows on the simplex.
        k: Candidates per query; lists with fewer pooled items are padded.
        method: ``weighted`` or ``rrf``; default: the pool's.

    Returns:
        Candidates best first; ``features[..., -1]`` is the fused score.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    weights = check_weights(fusion_weights, len(pool), pool.modality_names)
    terms = pool.z_scores if (method or pool.method) == "weighted" else pool.rrf_terms
    fused = np.einsum("bpm,bm->bp", terms, weights)
    fused = np.where(pool.mask, fused, -np.inf).astype(np.float32)
    slots = _best_slots(fused, min(k, pool.size))
    mask = np.take_along_axis(pool.mask, slots, axis=1)
    top = np.take_along_axis(fused, slots, axis=1)
    features = np.concatenate(
        [
            np.take_along_axis(pool.features, slots[..., None], axis=1),
            np.where(mask, top, 0.0)[..., None],
        ],
        axis=2,
    )
    batch = CandidateBatch(
        queries=pool.queries,
        item_index=np.where(mask, np.take_along_axis(pool.item_index, slots, axis=1), PAD),
        modality_scores=np.take_along_axis(pool.modality_scores, slots[..., None], axis=1),
        features=features * mask[..., None],
        mask=mask,
        modality_names=pool.modality_names,
        feature_names=pool.feature_names,
    )
    return _pad(batch, k) if k > pool.size else batch


def _best_slots(fused: np.ndarray, k: int) -> np.ndarray:
    """int64 (B, k): pool slots by descending fused score; ties keep the lower slot."""
    p = fused.shape[1]
    if k < p:
        part = np.argpartition(-fused, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(p), fused.shape)
    values = np.take_along_axis(fused, part, axis=1)
    order = np.lexsort((part, -values), axis=1)
    return np.take_along_axis(part, order, axis=1).astype(np.int64)


def _pad(batch: CandidateBatch, k: int) -> CandidateBatch:
    """Pad a batch's K axis to ``k``."""
    extra = k - batch.k
    b = len(batch)

    def grow(array: np.ndarray, fill: float | int | bool) -> np.ndarray:
        pad = np.full((b, extra, *array.shape[2:]), fill, dtype=array.dtype)
        return np.concatenate([array, pad], axis=1)

    return CandidateBatch(
        queries=batch.queries,
        item_index=grow(batch.item_index, PAD),
        modality_scores=grow(batch.modality_scores, 0.0),
        features=grow(batch.features, 0.0),
        mask=grow(batch.mask, False),
        modality_names=batch.modality_names,
        feature_names=batch.feature_names,
    )
