"""Off-policy estimators on ShopWorld, where the hidden truth gives every target's value.

The propensity-free, position-based estimators (``PBM-IPS (click model θ)``, ``PBM-IPS
(harvested θ)``; :mod:`fusionrank.evaluation.ope.position`) beside the estimators that
need the logging policy's propensities (IPS, SNIPS, DM, DR, SNDR, PBM-IPS), on the same
logs and targets. For each world seed: generate a small ShopWorld (no images), keep its
first result pages, and rank each query's logged pool (every item the logs showed for it)
with four targets:

* ``oracle``: by the hidden users' attractiveness (segment-averaged): far from logging;
* ``text order``: by the shop's TF-IDF score, the logging policy's most likely ranking;
* ``reversed``: the oracle upside down (a bad policy);
* ``uniform``: a uniformly random order of the pool (a stochastic target).

The truth of a target is its expected clicks per logged impression under the hidden users
(:meth:`HiddenTruth.expected_page_index` on the target's ranking of each logged page;
the uniform target's by Monte Carlo over 16 random orders per page). The click model
behind ``click model θ`` is a UBM fitted to the same logs (the run's default simulator
click model). ShopWorld's users are not quite position-based (a click may end the search),
so the position-based estimators' error includes that model error.

    .venv/bin/python benchmarks/ope_shopworld.py [--seeds 0 1 2] [--n-pages 10000]
        [--n-items 2000] [--bootstrap 200] [--out runs/bench-ope-shopworld]

Prints, per target, the truth and each estimator's mean relative error over the seeds
(and how many of its 95 % intervals hold the truth), and the estimated examination next to
the hidden users' own ``e_r`` (``theta_users``) and to their clicks per unit of
attractiveness on the logged pages (``theta_effective``: ``e_r`` times the chance of not
having stopped above, what a position-based fit can see). Writes figures.json to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from fusionrank.datasets import load_catalog, load_logs, logs_to_pages
from fusionrank.datasets.shopworld.config import ShopWorldConfig
from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.datasets.shopworld.world import generate_world
from fusionrank.evaluation.ope.data import from_pages
from fusionrank.evaluation.ope.estimators import estimate_all
from fusionrank.evaluation.ope.examination import click_model_examination
from fusionrank.evaluation.ope.harvest import harvest_examination, slot_table
from fusionrank.evaluation.ope.position import impressions_from_pages, position_estimates
from fusionrank.evaluation.ope.targets import ranking_target, uniform_target
from fusionrank.evaluation.rankers import ScoreTable, logged_pools
from fusionrank.evaluation.shopworld import shopworld_pools
from fusionrank.simulator.click_models import UBM
from fusionrank.types import LoggedPages

TARGETS = ("oracle", "text order", "reversed", "uniform")


def first_pages(folder: Path) -> tuple[LoggedPages, HiddenTruth, pd.DataFrame]:
    catalog = load_catalog(folder / "data" / "catalog.parquet", check_images=False)
    frame = load_logs(folder / "data" / "logs.parquet")
    pages = logs_to_pages(frame[frame["page"] == 0].reset_index(drop=True), catalog)
    return pages, HiddenTruth.load(folder / "truth"), catalog.table


def score_tables(pages: LoggedPages, truth: HiddenTruth, catalog: pd.DataFrame):
    """The deterministic targets' score tables over each query's logged pool."""
    query_ids, pool = logged_pools(pages)
    probs = truth.page_probabilities(truth.query_index(query_ids), pool)
    share = np.asarray(truth.model.segment_share)
    attract = probs.attractiveness @ share
    text_ids, text_items, text_scores = shopworld_pools(
        truth, catalog, 200, np.random.default_rng(0)
    )
    lookup = {}
    for q, items, scores in zip(text_ids, text_items, text_scores, strict=True):
        lookup[q] = dict(zip(items.tolist(), scores.tolist(), strict=True))
    text = np.array(
        [[lookup[q].get(int(i), -1.0) for i in row] for q, row in zip(query_ids, pool, strict=True)]
    )
    return (
        {
            "oracle": ScoreTable(query_ids, pool, attract, "oracle"),
            "text order": ScoreTable(query_ids, pool, text, "text order"),
            "reversed": ScoreTable(query_ids, pool, -attract, "reversed"),
        },
        query_ids,
        pool,
    )


def true_value(
    truth: HiddenTruth, pages: LoggedPages, ranked: np.ndarray, rows: np.ndarray, cols
) -> float:
    """Expected clicks per logged impression when each page shows ``ranked`` (G, >= K)."""
    query = truth.query_index(pages.query_ids[pages.query])
    clicks = truth.expected_page_index(query, ranked[:, : pages.slate_size]).clicks
    return float(clicks[rows, cols].mean())


def uniform_truth(truth, pages, pool_rows, rows, cols, rng, draws=16) -> float:
    values = []
    for _ in range(draws):
        key = np.where(pool_rows >= 0, rng.random(pool_rows.shape), 2.0)
        shuffled = np.take_along_axis(pool_rows, np.argsort(key, axis=1), axis=1)
        values.append(true_value(truth, pages, shuffled, rows, cols))
    return float(np.mean(values))


def effective_examination(truth: HiddenTruth, pages: LoggedPages) -> np.ndarray:
    """float64 (K,): the hidden users' clicks per unit of attractiveness at each slot of the
    logged pages (their ``e_r`` times the chance of not having stopped above)."""
    query = truth.query_index(pages.query_ids[pages.query])
    clicks = truth.expected_page_index(query, pages.item_index).clicks
    share = np.asarray(truth.model.segment_share)
    attract = truth.page_probabilities(query, pages.item_index).attractiveness @ share
    return clicks.sum(axis=0) / attract.sum(axis=0)


def harvested_theta(impressions) -> np.ndarray:
    key = impressions.query * impressions.n_actions + impressions.action
    pairs, pair = np.unique(key, return_inverse=True)
    k = impressions.n_positions
    shown = slot_table(pair, impressions.position, np.ones(len(impressions)), len(pairs), k)
    clicks = slot_table(pair, impressions.position, impressions.reward, len(pairs), k)
    return harvest_examination(shown, clicks).theta


def one_world(seed: int, args: argparse.Namespace) -> dict:
    config = ShopWorldConfig(
        n_items=args.n_items, n_needs=args.n_needs, n_pages=args.n_pages, images=False
    )
    with tempfile.TemporaryDirectory() as tmp:
        generate_world(config, seed, Path(tmp) / "world")
        pages, truth, catalog = first_pages(Path(tmp) / "world")
    log = from_pages(pages, "clicks")
    impressions = impressions_from_pages(pages, "clicks")
    rows, cols = np.nonzero(pages.shown)
    tables, query_ids, pool = score_tables(pages, truth, catalog)
    pool_rows = pool[pd.Index(query_ids).get_indexer(pages.query_ids)][pages.query]
    model_theta = click_model_examination(UBM(n_iterations=50).fit(pages), pages)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
    group_query = pages.query_ids[pages.query]
    out: dict = {
        "seed": seed,
        "impressions": len(log),
        "pages": log.n_groups,
        "theta_users": (truth.model.examination(pages.slate_size)).tolist(),
        "theta_effective": effective_examination(truth, pages).tolist(),
        "theta_click_model": model_theta.tolist(),
        "theta_harvested": harvested_theta(impressions).tolist(),
        "targets": {},
    }
    for name in TARGETS:
        if name == "uniform":
            target = uniform_target(log, pool_rows[log.group], name="uniform")
            value = uniform_truth(truth, pages, pool_rows, rows, cols, rng)
        else:
            ranked = tables[name](group_query)
            target = ranking_target(log, ranked, name)
            value = true_value(truth, pages, ranked, rows, cols)
        started = time.perf_counter()
        estimates = list(
            estimate_all(log, target, n_bootstrap=args.bootstrap, rng=rng, reward_model="logistic")
        )
        free, skipped = position_estimates(
            impressions, target, model_theta, "UBM fitted to the logs",
            n_bootstrap=args.bootstrap, rng=rng,
        )  # fmt: skip
        estimates += list(free)
        out["targets"][name] = {
            "truth": value,
            "seconds": time.perf_counter() - started,
            "skipped": skipped,
            "estimates": [e.to_dict() for e in estimates],
        }
        print(f"seed {seed} {name}: truth {value:.5f} ({time.perf_counter() - started:.0f} s)")
    return out


def summarize(worlds: list[dict]) -> None:
    print()
    print("| target | truth (mean) | estimator | estimate (mean) | relative error, mean ± sd "
          "| 95 % CI holds truth |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name in TARGETS:
        truths = np.array([w["targets"][name]["truth"] for w in worlds])
        names = [e["estimator"] for e in worlds[0]["targets"][name]["estimates"]]
        for i, estimator in enumerate(names):
            values = np.array([w["targets"][name]["estimates"][i]["value"] for w in worlds])
            cis = np.array([w["targets"][name]["estimates"][i]["ci"] for w in worlds])
            errors = np.abs(values - truths) / truths
            held = int(((cis[:, 0] <= truths) & (truths <= cis[:, 1])).sum())
            spread = f" ± {errors.std(ddof=1):.3f}" if len(errors) > 1 else ""
            print(
                f"| {name} | {truths.mean():.5f} | {estimator} | {values.mean():.5f} "
                f"| {errors.mean():.3f}{spread} | {held}/{len(worlds)} |"
            )
    print()
    for world in worlds:
        print(f"seed {world['seed']}: examination (slot 1 = 1)")
        for key in ("theta_users", "theta_effective", "theta_click_model", "theta_harvested"):
            theta = np.asarray(world[key])
            print(f"  {key:18s} " + " ".join(f"{t:.3f}" for t in theta / theta[0]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--n-pages", type=int, default=10_000)
    parser.add_argument("--n-items", type=int, default=2_000)
    parser.add_argument("--n-needs", type=int, default=120)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("runs/bench-ope-shopworld"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.WARNING)
    worlds = [one_world(seed, args) for seed in args.seeds]
    summarize(worlds)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "figures.json").write_text(json.dumps(worlds, indent=1))
    print(f"\nfigures: {args.out / 'figures.json'}")


if __name__ == "__main__":
    main()
