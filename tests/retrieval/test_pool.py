"""CandidatePool.take and fuse on synthetic pools (no encoder, no faiss)."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrank.retrieval.pool import FUSED_SCORE, CandidatePool, fuse
from fusionrank.types import PAD, Query

MODALITIES = ("text", "image", "lexical")


def synthetic_pool(b: int, p: int, seed: int = 0) -> CandidatePool:
    """A random pool of b queries and p slots, the last slots of odd rows padded."""
    rng = np.random.default_rng(seed)
    m = len(MODALITIES)
    mask = np.ones((b, p), dtype=bool)
    mask[1::2, p - p // 4 :] = False
    items = np.where(mask, rng.permuted(np.tile(np.arange(p * 4), (b, 1)), axis=1)[:, :p], PAD)
    scores = rng.normal(size=(b, p, m)).astype(np.float32) * mask[..., None]
    ranks = rng.integers(0, 30, size=(b, p, m))
    rrf = np.where(ranks > 0, 1.0 / (60 + ranks), 0.0).astype(np.float32)
    features = rng.normal(size=(b, p, 4)).astype(np.float32) * mask[..., None]
    return CandidatePool(
        queries=tuple(Query(f"q{i}", f"query {i}") for i in range(b)),
        item_index=items.astype(np.int64),
        modality_scores=scores,
        z_scores=scores.copy(),
        rrf_terms=rrf * mask[..., None],
        features=features,
        mask=mask,
        modality_names=MODALITIES,
        feature_names=("a", "b", "c", "d", FUSED_SCORE),
    )


def test_take_selects_rows_in_order_with_repeats() -> None:
    pool = synthetic_pool(6, 10)
    rows = np.array([4, 1, 1, 0], dtype=np.int64)
    sub = pool.take(rows)
    assert len(sub) == 4 and sub.size == pool.size
    assert [q.query_id for q in sub.queries] == ["q4", "q1", "q1", "q0"]
    for name in ("item_index", "modality_scores", "z_scores", "rrf_terms", "features", "mask"):
        np.testing.assert_array_equal(getattr(sub, name), getattr(pool, name)[rows])
    weights = np.full((6, 3), 1 / 3, dtype=np.float32)
    whole = fuse(pool, weights, 5)
    part = fuse(sub, weights[rows], 5)
    np.testing.assert_array_equal(part.item_index, whole.item_index[rows])
    np.testing.assert_array_equal(part.features, whole.features[rows])


BAD_ROWS = [np.array([0, 6]), np.array([-1]), np.array([[0]]), np.array([0.5])]


@pytest.mark.parametrize("rows", BAD_ROWS)
def test_take_rejects_bad_rows(rows: np.ndarray) -> None:
    with pytest.raises(ValueError, match="rows"):
        synthetic_pool(6, 10).take(rows)


def test_take_empty_rows_gives_empty_pool() -> None:
    sub = synthetic_pool(3, 8).take(np.array([], dtype=np.int64))
    assert len(sub) == 0 and sub.size == 8


@pytest.mark.parametrize("method", ["weighted", "rrf"])
@pytest.mark.parametrize("k", [1, 7, 10, 14])
def test_fuse_matches_a_plain_reference(method: str, k: int) -> None:
    """fuse = a stable sort of the masked fused score (ties by slot), top k, padded."""
    pool = synthetic_pool(8, 10, seed=3)
    z = np.round(pool.z_scores, 1)  # rounding makes ties
    pool = CandidatePool(**{**pool.__dict__, "z_scores": z})
    rng = np.random.default_rng(4)
    weights = rng.dirichlet(np.ones(3), size=8).astype(np.float32)
    weights[0] = [1, 0, 0]
    batch = fuse(pool, weights, k, method=method)  # type: ignore[arg-type]
    terms = z if method == "weighted" else pool.rrf_terms
    fused = np.where(pool.mask, (terms * weights[:, None, :]).sum(-1), -np.inf)
    for row in range(8):
        order = np.argsort(-fused[row], kind="stable")[:k]
        order = order[pool.mask[row, order]]
        n = order.size
        np.testing.assert_array_equal(batch.item_index[row, :n], pool.item_index[row, order])
        assert (batch.item_index[row, n:] == PAD).all() and not batch.mask[row, n:].any()
        np.testing.assert_allclose(batch.features[row, :n, -1], fused[row, order], rtol=1e-5)
        np.testing.assert_array_equal(batch.features[row, :n, :-1], pool.features[row, order])
        assert batch.item_index.shape == (8, k)
