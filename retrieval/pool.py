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

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from fusionrank.arrays import check_array as _check_array
from fusionrank.arrays import check_shape as _check_shape
from fusionrank.types import PAD, CandidateBatch, Query

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

    def take(self, rows: np.ndarray) -> CandidatePool:
        """The pool restricted to some query rows, in the order given (repeats allowed).

        For environments that pool every distinct query once and sample batches from it.

        Args:
            rows: int, shape (B',): row indices into this pool, each in ``[0, B)``.

        Returns:
            A pool of B' queries whose arrays are ``array[rows]``; ``P`` is unchanged.

        Raises:
            ValueError: If ``rows`` is not a 1-d integer array or an index is out of range.
        """
        rows = np.asarray(rows)
        if rows.ndim != 1 or not np.issubdtype(rows.dtype, np.integer):
            raise ValueError(
                f"rows must be a 1-d integer array, got dtype {rows.dtype} shape {rows.shape}; "
                "pass e.g. rng.integers(0, len(pool), size=batch)"
            )
        b = len(self)
        if rows.size and (rows.min() < 0 or rows.max() >= b):
            bad = int(rows[(rows < 0) | (rows >= b)][0])
            raise ValueError(f"rows holds {bad}, outside [0, {b}) for a pool of {b} queries")
        return replace(
            self,
            queries=tuple(map(self.queries.__getitem__, rows.tolist())),
            item_index=self.item_index[rows],
            modality_scores=self.modality_scores[rows],
            z_scores=self.z_scores[rows],
            rrf_terms=self.rrf_terms[rows],
            features=self.features[rows],
            mask=self.mask[rows],
        )


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
    b, p = pool.item_index.shape
    fused = np.matmul(terms, weights[:, :, None])[..., 0]
    fused = np.where(pool.mask, fused, -np.inf).astype(np.float32, copy=False)
    slots = _best_slots(fused, min(k, p))
    flat = (slots + (np.arange(b, dtype=np.int64) * p)[:, None]).ravel()

    def gather(array: np.ndarray) -> np.ndarray:
        """Rows ``flat`` of ``array`` (B, P, ...) viewed as (B * P, ...), reshaped (B, k, ...)."""
        out = np.take(array.reshape(b * p, *array.shape[2:]), flat, axis=0)
        return out.reshape(b, slots.shape[1], *array.shape[2:])

    mask = gather(pool.mask)
    top = np.where(mask, gather(fused), 0.0).astype(np.float32)
    features = np.concatenate([gather(pool.features), top[..., None]], axis=2)
    features *= mask[..., None]
    batch = CandidateBatch(
        queries=pool.queries,
        item_index=np.where(mask, gather(pool.item_index), PAD),
        modality_scores=gather(pool.modality_scores),
        features=features,
        mask=mask,
        modality_names=pool.modality_names,
        feature_names=pool.feature_names,
    )
    return _pad(batch, k) if k > p else batch


def _best_slots(fused: np.ndarray, k: int) -> np.ndarray:
    """int64 (B, k): pool slots by descending fused score; ties keep the lower slot.

    Each score is packed with its slot into one int64 sort key,
    ``key = order_bits(-score) * 2**32 + slot``, where ``order_bits`` maps a float32 to
    an int32 of the same order (sign-magnitude to two's complement). Keys are distinct, so
    ``np.partition`` then ``np.sort`` of the first ``k`` give a total order with no argsort
    and no gather; the slot is the key's low 32 bits.
    """
    p = fused.shape[1]
    bits = (-fused).astype(np.float32, copy=False).view(np.int32)
    bits ^= (bits >> 31) & 0x7FFFFFFF
    keys = bits.astype(np.int64)
    keys <<= 32
    keys |= np.arange(p, dtype=np.int64)
    if k < p:
        keys = np.partition(keys, k - 1, axis=1)[:, :k]
    keys = np.sort(keys, axis=1)
    return keys & 0xFFFFFFFF


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
