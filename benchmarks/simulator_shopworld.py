"""Does the simulator fitted on ShopWorld's logs recover ShopWorld's hidden users?

Evaluation code: it reads the hidden truth, which fitting never does.

1. Position bias: the truth examines rank r with e_r = (r + 1)^-0.9. PBM's e_r / e_0, UBM's
   gamma[r, no click above] / gamma[0, none] and DBN's gamma^r are compared with it.
2. Attractiveness: each (query, item) pair's fitted attractiveness (times the fitted
   examination of rank 0, which fixes the models' scale) against the truth's
   attractiveness averaged over user segments; for pairs the logs showed and, through the
   feature model, for pairs they never showed.
3. New ranking policies: expected clicks, purchases and revenue per first result page
   under the simulator (``expected_page``) and under the truth, for rankings the logging
   policy never produced; the gap is (simulated - true) / true.

    python benchmarks/simulator_shopworld.py                 # default world, ~1 minute
    python benchmarks/simulator_shopworld.py --world runs/shopworld/world
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from fusionrank.datasets.shopworld.config import ShopWorldConfig
from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.datasets.shopworld.world import generate_world
from fusionrank.simulator.config import SimulatorConfig
from fusionrank.simulator.data import Split, catalog_prices, load_fit_data, split_sessions
from fusionrank.simulator.featurizer import CatalogFeaturizer
from fusionrank.simulator.fitting import fit_simulator
from fusionrank.simulator.user_simulator import UserSimulator
from fusionrank.types import LoggedPages

MODELS = ("ubm", "pbm", "dbn")


def examination(simulator: UserSimulator, n_ranks: int) -> np.ndarray:
    """The model's examination of each rank with no click above it, relative to rank 0."""
    model = simulator.click_model
    if model.name == "pbm":
        e = model.examination[:n_ranks]
    elif model.name == "ubm":
        e = model.examination[:n_ranks, 0]
    else:
        e = model.gamma ** np.arange(n_ranks)
    return e / e[0]


def scale(simulator: UserSimulator) -> float:
    model = simulator.click_model
    return {"pbm": lambda: model.examination[0], "ubm": lambda: model.examination[0, 0]}.get(
        model.name, lambda: 1.0
    )()


def attractiveness_recovery(
    simulator: UserSimulator, truth: HiddenTruth, pages: LoggedPages, rng: np.random.Generator
) -> dict[str, float]:
    """Error of fitted attractiveness against the truth's, for seen and unseen pairs."""
    share = np.asarray(truth.model.segment_share)
    query_truth = truth.query_index(pages.query_ids)
    table = simulator.click_model.table
    q, item = table.keys // table.n_items, table.keys % table.n_items
    true_seen = truth.page_probabilities(query_truth[q], item[:, None]).attractiveness[:, 0] @ share
    fitted = simulator.params(q, item[:, None])["attractiveness"][:, 0] * scale(simulator)
    weight = simulator.click_model.pair_weights["attractiveness"]
    sample_q = rng.choice(len(pages.query_ids), size=min(100, len(pages.query_ids)), replace=False)
    items = rng.choice(simulator.n_items, size=(sample_q.size, 200)).astype(np.int64)
    unseen = table.locate(sample_q, items) < 0
    true_all = truth.page_probabilities(query_truth[sample_q], items).attractiveness @ share
    predicted = simulator.params(sample_q, items)["attractiveness"] * scale(simulator)
    return {
        "seen_pairs": len(table),
        "seen_mae_weighted": float(np.average(np.abs(fitted - true_seen), weights=weight)),
        "seen_mae": float(np.mean(np.abs(fitted - true_seen))),
        "seen_correlation": float(np.corrcoef(fitted, true_seen)[0, 1]),
        "unseen_mae": float(np.mean(np.abs(predicted - true_all)[unseen])),
        "unseen_correlation": float(np.corrcoef(predicted[unseen], true_all[unseen])[0, 1]),
    }


def policies(
    pages: LoggedPages, truth: HiddenTruth, prices: np.ndarray, n_pages: int = 1000
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Rankings for a sample of held-out first pages: (query ids (B,), items int64 (B, L))."""
    first = np.flatnonzero(pages.page == 0)
    first = np.sort(np.random.default_rng(0).choice(first, min(n_pages, first.size), False))
    query_ids = pages.query_ids[pages.query[first]]
    logged = pages.item_index[first]
    n_ranks, n_items = logged.shape[1], prices.shape[0]
    q = truth.query_index(query_ids)
    everything = np.broadcast_to(np.arange(n_items, dtype=np.int64), (len(q), n_items))
    grade = truth.relevance(q, everything).astype(np.float64)
    tie = np.random.default_rng(1).random(grade.shape) * 0.5
    best = np.argsort(-(grade + tie), axis=1)[:, :n_ranks].astype(np.int64)
    cheap_relevant = np.lexsort((prices[everything], grade < 2), axis=1)[:, :n_ranks]
    pool_grade = np.take_along_axis(grade, logged, axis=1)
    by_relevance = np.take_along_axis(logged, np.argsort(-pool_grade, axis=1, kind="stable"), 1)
    return {
        "logged": (query_ids, logged),
        "logged reversed": (query_ids, logged[:, ::-1].copy()),
        "logged, by true relevance": (query_ids, by_relevance),
        "catalog, by true relevance": (query_ids, best),
        "catalog, cheapest relevant": (query_ids, cheap_relevant.astype(np.int64)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="a generated world folder (default: new)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        world = args.world
        if world is None:
            world = Path(tmp) / "world"
            generate_world(ShopWorldConfig(images=False), args.seed, world)
        run(world, args.json)


def fit_model(
    name: str,
    split: Split,
    featurizer: CatalogFeaturizer,
    prices: np.ndarray,
    truth: HiddenTruth,
    truth_e: np.ndarray,
    slate_size: int,
) -> tuple[UserSimulator, dict]:
    """Fit one click model; its held-out fit, examination and attractiveness recovery
    against the truth, printed."""
    started = time.perf_counter()
    simulator = fit_simulator(split.train, featurizer, prices, SimulatorConfig(click_model=name))
    seconds = time.perf_counter() - started
    e = examination(simulator, slate_size)
    ll, pp = simulator.evaluate(split.held_out)
    entry = {
        "fit_seconds": seconds,
        "held_out_log_likelihood": ll.mean,
        "held_out_perplexity": pp.mean,
        "examination": e.round(4).tolist(),
        "examination_mae": float(np.mean(np.abs(e - truth_e))),
        "examination_max_error": float(np.max(np.abs(e - truth_e))),
        "attractiveness": attractiveness_recovery(
            simulator, truth, split.train, np.random.default_rng(1)
        ),
        "policies": {},
    }
    print(f"\n{name}: fit {seconds:.1f} s, held-out LL {ll.mean:.4f}, PP {pp.mean:.4f}")
    print(
        f"  examination {np.round(e, 3).tolist()}"
        f"  MAE {entry['examination_mae']:.4f}, max {entry['examination_max_error']:.4f}"
    )
    print(
        "  attractiveness: "
        + ", ".join(
            f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}"
            for k, v in entry["attractiveness"].items()
        )
    )
    return simulator, entry


def policy_gaps(
    simulator: UserSimulator,
    truth: HiddenTruth,
    rankings: dict[str, tuple[np.ndarray, np.ndarray]],
) -> dict[str, dict[str, dict[str, float]]]:
    """Expected clicks, purchases and revenue per page of each ranking, simulated against
    true; printed as a table."""
    gaps = {}
    print(f"  {'policy':<28} {'clicks/page':>22} {'purchases/page':>22} {'revenue/page':>22}")
    for policy, (query_ids, items) in rankings.items():
        sim, real = (
            simulator.expected_page(query_ids, items),
            truth.expected_page(query_ids, items),
        )
        row = {}
        for key in ("clicks", "purchases", "revenue"):
            s = float(getattr(sim, key).sum(axis=1).mean())
            t = float(getattr(real, key).sum(axis=1).mean())
            row[key] = {"simulated": s, "truth": t, "gap": (s - t) / t}
        gaps[policy] = row
        print(
            f"  {policy:<28} "
            + " ".join(
                f"{row[k]['simulated']:7.3f} vs {row[k]['truth']:7.3f} ({row[k]['gap']:+.0%})"
                for k in ("clicks", "purchases", "revenue")
            )
        )
    return gaps


def run(world: Path, json_path: Path | None) -> None:
    """Fit each click model on the world's logs and compare it with the hidden truth."""
    pages, catalog = load_fit_data(
        world / "data" / "logs.parquet", world / "data" / "catalog.parquet"
    )
    truth = HiddenTruth.load(world / "truth")
    split = split_sessions(pages, 0.25)
    featurizer = CatalogFeaturizer(catalog)
    truth_e = truth.model.examination(pages.slate_size)
    results: dict = {"truth_examination": truth_e.round(4).tolist()}
    print(f"ShopWorld: {len(split.train)} training pages, {len(split.held_out)} held out")
    print(f"truth examination e_r: {np.round(truth_e, 3).tolist()}")
    prices = catalog_prices(catalog)
    assert prices is not None, "ShopWorld catalogs have prices"
    rankings = policies(split.held_out, truth, prices)
    for name in MODELS:
        simulator, entry = fit_model(
            name, split, featurizer, prices, truth, truth_e, pages.slate_size
        )
        entry["policies"] = policy_gaps(simulator, truth, rankings)
        results[name] = entry
    if json_path:
        json_path.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
