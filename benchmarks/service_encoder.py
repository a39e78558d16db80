"""The serving query encoder against the training one: all-MiniLM-L6-v2 through ONNX
Runtime (fp32, and int8 dynamic quantisation) beside sentence-transformers in torch.

For ShopWorld's queries (the run's distinct logged queries, and as many again with two
catalog words added) it reports how often the serving encoder gives the same top 10 as
the torch one: of the text index alone (same list, same set), and of the whole service
(``Reranker.search``: retrieval with the policy's fusion weights, then re-ranking, top
10); and the encoder's cost per query at batch 1 and 32 (wall and CPU ms). The target:
the same top 10 for >= 99 % of the queries.

Usage::

    .venv/bin/python benchmarks/service_encoder.py --run runs/shopworld-quick
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_bench_data import unique_queries

ENCODERS = ("torch", "onnx", "onnx-int8")


def cost(encode: Any, texts: list[str], batch: int, rounds: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per query, encoding ``texts`` in batches of ``batch``."""
    wall, cpu, n = time.perf_counter(), time.process_time(), 0
    for r in range(rounds):
        chunk = texts[(r * batch) % len(texts) :][:batch]
        encode([f"{t} {r}" for t in chunk])  # new texts: no memo helps
        n += len(chunk)
    return 1e3 * (time.perf_counter() - wall) / n, 1e3 * (time.process_time() - cpu) / n


def agreement(reference: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    """Shares of rows with the same ordered list and the same set."""
    same_list = (reference == other).all(axis=1)
    same_set = np.array([set(a) == set(b) for a, b in zip(reference, other, strict=True)])
    return float(same_list.mean()), float(same_set.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, default=Path("runs/shopworld-quick"))
    parser.add_argument("--policy", default="ppo-rerank")
    parser.add_argument("--extra", type=int, default=0, help="Added queries (default: as many).")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from fusionrank.service import Reranker, ServiceConfig

    torch.set_num_threads(1)
    from fusionrank.runs import RunFolder

    inputs = RunFolder(args.run).inputs()
    bases, _ = unique_queries(inputs.logs, inputs.catalog, 0)
    _, extra = unique_queries(inputs.logs, inputs.catalog, args.extra or len(bases), seed=1)
    sets = {"logged queries": bases, "with two words added": extra}
    tmp = Path(tempfile.mkdtemp(prefix="fusionrank-encoder-bench-"))
    rerankers = {
        name: Reranker.load(
            args.run,
            ServiceConfig(
                policy=args.policy, text_encoder=name, exports_dir=str(tmp), query_cache=0
            ),
        )
        for name in ENCODERS
    }
    tops: dict[str, dict[str, np.ndarray]] = {}
    for name, reranker in rerankers.items():
        text = reranker.retriever.dense["text"]  # type: ignore[union-attr]
        tops[name] = {}
        for label, texts in sets.items():
            tops[name][label] = text.search(text.encode(texts), 10).items
            service = [list(reranker.search(t, top_k=10).item_ids) for t in texts]
            tops[name][f"{label}/service"] = np.array(service, dtype=object)
    print(f"run {args.run}; {len(bases)} logged queries, {len(extra)} with two words added")
    print(f"{'encoder':<11}{'queries':<24}{'index same list':>16}{'same set':>10}"
          f"{'service top-10':>16}")  # fmt: skip
    for name in ENCODERS[1:]:
        for label in sets:
            listed, as_set = agreement(tops["torch"][label], tops[name][label])
            service = agreement(tops["torch"][f"{label}/service"], tops[name][f"{label}/service"])
            print(f"{name:<11}{label:<24}{listed:>16.2%}{as_set:>10.2%}{service[0]:>16.2%}")
    texts = bases + extra
    print(f"{'encoder':<11}{'batch':>6}{'wall ms/query':>15}{'CPU ms/query':>14}")
    for name, reranker in rerankers.items():
        text = reranker.retriever.dense["text"]  # type: ignore[union-attr]
        for batch, rounds in ((1, 100), (32, 10)):  # new texts: the memo never hits
            wall, cpu = cost(text.encode, texts, batch, rounds)
            print(f"{name:<11}{batch:>6}{wall:>15.2f}{cpu:>14.2f}")


if __name__ == "__main__":
    main()
