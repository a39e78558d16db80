"""Speed of :func:`fusionrank.retrieval.pool.fuse`, which the environment calls every step.

B = 1024 queries, a pool of P = 150 candidates, M = 3 modalities, 12 pair features,
k = 50; random scores, the last quarter of odd rows padded. The peer, measured in the same
run, is the textbook numpy version of the same ranking (``take_along_axis`` gathers, a
full ``argsort`` by score with ties by slot). Reports the median and p90 over repeats, in
wall and CPU milliseconds (CPU time is steadier on a shared machine).

    python benchmarks/retrieval_fuse.py
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from fusionrank.retrieval.pool import FUSED_SCORE, CandidatePool, fuse
from fusionrank.types import PAD, Query

MODALITIES = ("text", "image", "lexical")


def make_pool(b: int, p: int, n_features: int, rng: np.random.Generator) -> CandidatePool:
    mask = np.ones((b, p), dtype=bool)
    mask[1::2, p - p // 4 :] = False
    items = np.where(mask, rng.integers(0, 100_000, size=(b, p)), PAD).astype(np.int64)
    scores = (rng.normal(size=(b, p, 3)) * mask[..., None]).astype(np.float32)
    features = (rng.normal(size=(b, p, n_features)) * mask[..., None]).astype(np.float32)
    return CandidatePool(
        queries=tuple(Query(str(i), f"query {i}") for i in range(b)),
        item_index=items,
        modality_scores=scores,
        z_scores=scores,
        rrf_terms=np.zeros_like(scores),
        features=features,
        mask=mask,
        modality_names=MODALITIES,
        feature_names=(*(f"f{i}" for i in range(n_features)), FUSED_SCORE),
    )


def textbook(pool: CandidatePool, weights: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """The peer: items, scores, features and mask of the top k, plain numpy."""
    fused = np.einsum("bpm,bm->bp", pool.z_scores, weights)
    fused = np.where(pool.mask, fused, -np.inf)
    slots = np.argsort(-fused, axis=1, kind="stable")[:, :k]
    take = np.take_along_axis
    mask = take(pool.mask, slots, axis=1)
    top = take(fused, slots, axis=1)
    features = np.concatenate(
        [take(pool.features, slots[..., None], axis=1), np.where(mask, top, 0)[..., None]], axis=2
    )
    return (
        np.where(mask, take(pool.item_index, slots, axis=1), PAD),
        take(pool.modality_scores, slots[..., None], axis=1),
        features * mask[..., None],
        mask,
    )


def timings(step: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """Median and p90 wall ms, median CPU ms."""
    step()
    wall, cpu = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    ms = np.asarray(wall) * 1e3
    return float(np.median(ms)), float(np.percentile(ms, 90)), float(np.median(cpu) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--pool", type=int, default=150)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pool = make_pool(args.batch, args.pool, 12, rng)
    weights = rng.dirichlet(np.ones(3), size=args.batch).astype(np.float32)
    ours, peer = fuse(pool, weights, args.k), textbook(pool, weights, args.k)
    assert np.array_equal(ours.item_index, peer[0]), "fuse and the peer disagree"
    rows = rng.integers(0, args.batch, size=args.batch)
    print(f"B={args.batch} P={args.pool} M=3 F=13 k={args.k}")
    print(f"{'':<28}{'median ms':>10}{'p90 ms':>10}{'CPU ms':>10}")
    for label, step in [
        ("fuse", lambda: fuse(pool, weights, args.k)),
        ("textbook numpy (peer)", lambda: textbook(pool, weights, args.k)),
        ("CandidatePool.take(B rows)", lambda: pool.take(rows)),
    ]:
        median, p90, cpu = timings(step, args.repeats)
        print(f"{label:<28}{median:>10.2f}{p90:>10.2f}{cpu:>10.2f}")


if __name__ == "__main__":
    main()
