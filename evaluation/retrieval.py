"""Retrieval quality on ShopWorld, by query intent, against the hidden graded relevance.

Evaluation code is the only reader of the hidden truth; the retriever never sees it.
Conditions, each on the same candidate pools:

* one row per modality (its weight 1, the others 0): single-modality retrieval;
* ``fixed fusion``: the configured default weights for every query;
* ``best weights per query``: for each query, the point of a simplex grid whose fused
  list has the highest nDCG@10 (ties: the first) -- an upper bound on what learned
  per-query fusion weights can reach, which shows the headroom;
* optionally a random-weights CLIP of the same architecture, image only (chance level).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusionrank import progress
from fusionrank.datasets.shopworld.needs import INTENTS
from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.io import atomic_path, write_json
from fusionrank.retrieval.config import RetrievalConfig
from fusionrank.retrieval.metrics import retrieval_metrics
from fusionrank.retrieval.pool import CandidatePool, fuse
from fusionrank.retrieval.retriever import Retriever
from fusionrank.runs import RunFolder
from fusionrank.types import Query

logger = logging.getLogger(__name__)

KS = (10, 100)
ORACLE_METRIC = "ndcg@10"
METRICS = ("recall@10", "recall@100", "ndcg@10", "mrr")


def simplex_grid(n_modalities: int, step: float) -> np.ndarray:
    """Every weight vector on the simplex with coordinates in multiples of ``step``.

    Returns:
        float32, shape (G, n_modalities); e.g. 66 points for 3 modalities and step 0.1.
    """
    n = round(1 / step)
    points = [c for c in itertools.product(range(n + 1), repeat=n_modalities) if sum(c) == n]
    return np.asarray(points, dtype=np.float32) / n


class Judge:
    """Graded relevance of every catalog item to every ShopWorld query.

    Args:
        truth: The hidden truth.
        n_items: Catalog size.
        depth: Longest cut-off of the metrics.
    """

    def __init__(self, truth: HiddenTruth, n_items: int, depth: int) -> None:
        self.truth = truth
        queries = np.arange(truth.n_queries)
        self.ideal = np.empty((truth.n_queries, depth), dtype=np.int8)
        self.n_relevant = np.empty(truth.n_queries, dtype=np.int64)
        for start in range(0, truth.n_queries, 128):
            rows = queries[start : start + 128]
            grades = truth.relevance(
                rows, np.broadcast_to(np.arange(n_items), (len(rows), n_items))
            )
            self.ideal[rows] = -np.sort(-grades, axis=1)[:, :depth]
            self.n_relevant[rows] = (grades >= 3).sum(axis=1)
        self.intent = np.asarray(INTENTS)[truth.needs.intent[truth.query_need]]

    def queries(self) -> list[Query]:
        return [
            Query(str(i), str(t))
            for i, t in zip(self.truth.query_ids, self.truth.query_texts, strict=True)
        ]

    def metrics(self, item_index: np.ndarray) -> dict[str, np.ndarray]:
        """Per-query metrics of ranked lists, int64 (Q, K) in query order."""
        grades = self.truth.relevance(np.arange(self.truth.n_queries), item_index)
        return retrieval_metrics(grades, self.ideal, self.n_relevant, KS)


def _condition(judge: Judge, pool: CandidatePool, weights: np.ndarray) -> dict[str, np.ndarray]:
    batch = fuse(pool, np.broadcast_to(weights, (len(pool), weights.shape[-1])), max(KS))
    return judge.metrics(batch.item_index)


def best_weights(
    judge: Judge, pool: CandidatePool, step: float
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-query best grid weights: their metrics and the weights, float32 (Q, M)."""
    grid = simplex_grid(len(pool.modality_names), step)
    best: dict[str, np.ndarray] | None = None
    chosen = np.zeros((len(pool), grid.shape[1]), dtype=np.float32)
    for point in progress.track(grid, "retrieval: weight grid"):
        result = _condition(judge, pool, point)
        if best is None:
            best, chosen[:] = result, point
            continue
        better = result[ORACLE_METRIC] > best[ORACLE_METRIC]
        for name in best:
            best[name] = np.where(better, result[name], best[name])
        chosen[better] = point
    assert best is not None
    return best, chosen


def evaluate(
    retriever: Retriever,
    truth: HiddenTruth,
    grid_step: float = 0.1,
    random_clip: Retriever | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The ShopWorld table: one row per (condition, intent), plus ``all``.

    Args:
        retriever: The retriever to judge.
        truth: ShopWorld's hidden truth (same world as the retriever's catalog).
        grid_step: Spacing of the weight grid of the per-query upper bound.
        random_clip: A retriever whose image modality uses random CLIP weights.

    Returns:
        The table (columns ``condition, intent, n_queries`` and :data:`METRICS`) and
        extra facts (mean best weights per intent).
    """
    judge = Judge(truth, retriever.n_items, max(KS))
    queries = judge.queries()
    pool = retriever.pool(queries, max(retriever.config.k_per_modality, max(KS)))
    names = retriever.modality_names
    conditions: dict[str, dict[str, np.ndarray]] = {}
    for axis, name in enumerate(names):
        conditions[f"{name} only"] = _condition(
            judge, pool, np.eye(len(names), dtype=np.float32)[axis]
        )
    conditions["fixed fusion"] = _condition(judge, pool, retriever.default_weights(1)[0])
    conditions["best weights per query"], chosen = best_weights(judge, pool, grid_step)
    if random_clip is not None and "image" in random_clip.modality_names:
        baseline = random_clip.pool(queries, max(random_clip.config.k_per_modality, max(KS)))
        one_hot = (np.asarray(random_clip.modality_names) == "image").astype(np.float32)
        conditions["image only, random-init CLIP"] = _condition(judge, baseline, one_hot)
    table = _table(conditions, judge.intent)
    facts = {
        "fusion": retriever.config.fusion,
        "modalities": list(names),
        "default_weights": retriever.default_weights(1)[0].round(4).tolist(),
        "mean_best_weights": {
            **{
                intent: chosen[judge.intent == intent].mean(axis=0).round(3).tolist()
                for intent in INTENTS
                if (judge.intent == intent).any()
            },
            "all": chosen.mean(axis=0).round(3).tolist(),
        },
    }
    return table, facts


def _table(conditions: dict[str, dict[str, np.ndarray]], intent: np.ndarray) -> pd.DataFrame:
    rows = []
    groups: Sequence[str] = [i for i in INTENTS if (intent == i).any()]
    for condition, metrics in conditions.items():
        for group in (*groups, "all"):
            chosen = np.ones_like(intent, dtype=bool) if group == "all" else intent == group
            row: dict[str, Any] = {
                "condition": condition,
                "intent": group,
                "n_queries": int(chosen.sum()),
            }
            row.update({m: float(np.nanmean(metrics[m][chosen])) for m in METRICS})
            rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class RetrievalJudgement:
    """Retrieval quality of a run on ShopWorld.

    Args:
        table: One row per (condition, intent): ``n_queries`` and :data:`METRICS`.
        facts: The fusion rule, modality names, default and mean best weights.
        folder: Where ``eval.csv`` and ``eval.json`` were written.
    """

    table: pd.DataFrame
    facts: dict[str, Any]
    folder: Path

    def summary(self) -> dict[str, Any]:
        rows = self.table[self.table["intent"] == "all"]
        return {
            "folder": str(self.folder),
            **{f"recall@10 {r.condition}": float(r["recall@10"]) for _, r in rows.iterrows()},
        }


def judge_run_retrieval(
    run: RunFolder,
    config: RetrievalConfig,
    seed: int,
    grid_step: float = 0.1,
    random_clip: bool = True,
) -> RetrievalJudgement:
    """Judge the run's retriever against ShopWorld's hidden relevance, by query intent
    (with a random-weights CLIP of the same architecture when ``random_clip``), and write
    ``run.retrieval.metrics/eval.{csv,json}``.

    Raises:
        ValueError: If the run has no hidden truth (not ShopWorld) or no index.
    """
    from fusionrank.retrieval.stages import load_run_catalog, load_run_retriever

    if not run.world.has_truth:
        raise ValueError(
            f"run {run.name!r} has no hidden truth ({run.world.truth}): retrieval can be "
            "judged on ShopWorld only"
        )
    truth = HiddenTruth.load(run.world.truth)
    retriever = load_run_retriever(run, config)
    baseline = None
    if random_clip and "image" in retriever.modality_names:
        from fusionrank.retrieval.clip import load_clip
        from fusionrank.seeding import int_seed

        clip = load_clip(retriever.manifest["clip"]["model"], None, int_seed(seed, "clip"))
        catalog = load_run_catalog(run)
        baseline = Retriever.build(catalog, retriever.config, run.retrieval.path, clip=clip)
    table, facts = evaluate(retriever, truth, grid_step, baseline)
    out = run.retrieval.metrics
    with atomic_path(out / "eval.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_json(out / "eval.json", {"table": table.to_dict(orient="records"), **facts})
    return RetrievalJudgement(table, facts, out)
