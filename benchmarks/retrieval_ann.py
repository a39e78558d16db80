"""Approximate nearest-neighbour search at catalog scale: the configured FAISS indexes
beside numpy brute force and faiss ``Flat``, measured in the same run.

N = 100,000 unit vectors of 384 dimensions (the text modality's size) with a low
intrinsic dimension, as real sentence embeddings have: a 32-d Gaussian latent mapped by a
fixed random 32 x 384 matrix, plus small isotropic noise, then L2-normalised (uniform
random 384-d vectors have no neighbours worth the name). Q held-out queries from the same
distribution. For each
method: build seconds, batched throughput (queries/s, one ``search`` call of Q queries),
single-query latency p50 / p99 (ms), and recall@100 against the exact top 100.

Targets (issue 3): at recall@100 >= 0.95, batched queries >= 10x numpy brute force and a
single-query p99 under 5 ms.

    python benchmarks/retrieval_ann.py                 # ~3 min on 2 free cores
    python benchmarks/retrieval_ann.py --n 20000       # quicker
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from fusionrank.retrieval.config import IndexConfig
from fusionrank.retrieval.index import apply_search_parameters, build_index, search, set_threads

K = 100
APPROXIMATE = [
    ("HNSW32", "ef_search", [64, 128, 256]),
    ("IVF1024,Flat", "nprobe", [8, 16, 32]),
]


LATENT = 32
NOISE = 0.05


def embeddings(n: int, rng: np.random.Generator, mixing: np.ndarray) -> np.ndarray:
    """float32 (n, dim): ``normalise(z @ mixing + NOISE * e)``, z ~ N(0, I_32), e ~ N(0, I)."""
    x = rng.normal(size=(n, LATENT)) @ mixing
    x += (
        NOISE
        * np.linalg.norm(x, axis=1, keepdims=True)
        * rng.normal(size=x.shape)
        / np.sqrt(x.shape[1])
    )
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def numpy_top_k(items: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Brute force: int64 (Q, k) best items by inner product, best first."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 256):
        scores = queries[start : start + 256] @ items.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1)
        out[start : start + 256] = np.take_along_axis(part, order, axis=1)
    return out


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of the exact top k found, over queries."""
    rows = np.arange(len(found))[:, None]
    hit = np.zeros((len(found), int(max(found.max(), exact.max())) + 1), dtype=bool)
    hit[rows, exact] = True
    return float(hit[rows, np.where(found >= 0, found, 0)].mean())


def latencies(index, queries: np.ndarray, n: int) -> tuple[float, float]:
    """Single-query p50 and p99 in ms over ``n`` queries."""
    times = []
    for q in queries[:n]:
        started = time.perf_counter()
        search(index, q[None, :], K)
        times.append(time.perf_counter() - started)
    ms = np.asarray(times) * 1e3
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--single", type=int, default=300, help="Queries timed one by one.")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    set_threads(args.threads)
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(LATENT, args.dim))
    items = embeddings(args.n, rng, mixing)
    queries = embeddings(args.queries, rng, mixing)
    print(
        f"{args.n:,} items x {args.dim} dims, {args.queries:,} queries, k={K}, "
        f"{args.threads} threads"
    )

    started = time.perf_counter()
    exact = numpy_top_k(items, queries, K)
    brute = args.queries / (time.perf_counter() - started)
    rows = [("numpy brute force", "", 0.0, brute, float("nan"), float("nan"), 1.0)]

    for factory, parameter, values in [("Flat", "", [None]), *APPROXIMATE]:
        started = time.perf_counter()
        index = build_index(items, IndexConfig(factory=factory), "benchmark")
        built = time.perf_counter() - started
        for value in values:
            config = IndexConfig(factory=factory, **({parameter: value} if value else {}))
            apply_search_parameters(index, config)
            search(index, queries[:10], K)
            started = time.perf_counter()
            found = search(index, queries, K)[1]
            qps = args.queries / (time.perf_counter() - started)
            p50, p99 = latencies(index, queries, args.single)
            label = factory if value is None else f"{factory} {parameter}={value}"
            rows.append((label, f"{built:.1f}", built, qps, p50, p99, recall(found, exact)))

    print(
        f"\n{'method':<32}{'build s':>9}{'batch q/s':>11}{'x numpy':>9}"
        f"{'p50 ms':>9}{'p99 ms':>9}{'recall@100':>12}  target met"
    )
    for label, build, _, qps, p50, p99, rec in rows:
        ok = rec >= 0.95 and qps >= 10 * brute and p99 < 5
        print(
            f"{label:<32}{build:>9}{qps:>11,.0f}{qps / brute:>9.1f}{p50:>9.2f}{p99:>9.2f}"
            f"{rec:>12.3f}  {'yes' if ok else ''}"
        )


if __name__ == "__main__":
    main()
