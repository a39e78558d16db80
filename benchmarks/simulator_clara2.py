"""Click models on CLARA2: held-out likelihood, perplexity, nDCG, and fit time against
the textbook per-session EM loop (the peer, see benchmarks/README.md).

The split is the one used with PyClick: result pages in file order, the first 75 % for
training, the test pages limited to queries seen in training. Every model is fitted with
PyClick's conventions (parameters start at, and are smoothed by, one click in two views;
unseen pairs get 0.5) and the same number of EM iterations on both sides.

    python benchmarks/simulator_clara2.py                   # everything, ~3-4 minutes
    python benchmarks/simulator_clara2.py --no-peer         # our side only, seconds
    python benchmarks/simulator_clara2.py --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import simulator_em_peer as peer

from fusionrank.simulator.click_models import CLICK_MODELS, make_click_model
from fusionrank.types import LoggedPages

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "clara2"
MODELS = ("pbm", "cascade", "dcm", "dbn", "sdbn", "ubm", "global_ctr", "rank_ctr")
PEER_MODELS = ("pbm", "cascade", "dcm", "dbn", "sdbn", "ubm")


def load(data: Path) -> tuple[LoggedPages, object]:
    from fusionrank.datasets import load_clara2_log, load_clara2_relevance, logs_to_pages

    frame = load_clara2_log(data / "CLARA2SearchLog_beta")
    labels = load_clara2_relevance(data / "CLARA2QueryUrlRelevance_beta")
    return logs_to_pages(frame), (frame, labels)


def split(pages: LoggedPages) -> tuple[LoggedPages, LoggedPages]:
    """First 75 % of pages (file order) to train; test pages of queries seen in training."""
    cut = int(0.75 * len(pages))
    in_train = np.arange(len(pages)) < cut
    train, test = pages.subset(in_train), pages.subset(~in_train)
    return train, test.subset(np.isin(test.query, train.query))


def best_of(fit, repeats: int) -> tuple[float, object]:
    """The fastest of ``repeats`` runs of ``fit()`` and its result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - started)
    return min(times), result


def peer_fit_and_ll(name: str, train, test, n_iterations: int) -> tuple[float, float]:
    """Fit time and held-out mean log-likelihood of the per-session loop."""
    sessions = peer.sessions_of(train.query, train.item_index, train.clicks)
    held = peer.sessions_of(test.query, test.item_index, test.clicks)
    started = time.perf_counter()
    if name in ("pbm", "ubm"):
        attr, exam = peer.fit_pbm(sessions, n_iterations, ubm=name == "ubm")
        seconds = time.perf_counter() - started
        return seconds, peer.log_likelihood_pbm(held, attr, exam, ubm=name == "ubm")
    if name == "dbn":
        attr, sat, gamma = peer.fit_dbn(sessions, n_iterations)
        seconds = time.perf_counter() - started

        def stop(q, item, rank):
            return peer._value(sat, (q, item))

        return seconds, peer.log_likelihood_chain(held, attr, stop, gamma, gamma)
    attr, sat = peer.fit_counting(sessions, name)
    seconds = time.perf_counter() - started
    stops = {
        "cascade": lambda q, item, rank: 1.0,
        "dcm": lambda q, item, rank: peer._value(sat, rank),
        "sdbn": lambda q, item, rank: peer._value(sat, (q, item)),
    }
    g_click = 0.0 if name == "cascade" else 1.0
    return seconds, peer.log_likelihood_chain(held, attr, stops[name], g_click, 1.0)


def mapped_labels(mapping: dict[str, str], labels, train: LoggedPages):
    """Labels moved onto log queries and kept where training pages showed the pair.

    Returns:
        (query index int64 (n,), item index int64 (n,), grade float64 (n,), training
        views int64 (n,)) in the training pages' vocabularies; a pair labelled under
        several label queries that map to one log query gets their mean grade.
    """
    frame = labels.assign(log_query=labels["query"].map(mapping)).dropna(subset=["log_query"])
    frame = frame.groupby(["log_query", "url"], as_index=False)["relevance"].mean()
    query = pd.Index(train.query_ids.astype(str)).get_indexer(frame["log_query"].astype(str))
    item = pd.Index(train.item_ids.astype(str)).get_indexer(frame["url"].astype(str))
    n_items = len(train.item_ids)
    keys = (train.query[:, None] * n_items + train.item_index)[train.shown]
    shown, views = np.unique(keys, return_counts=True)
    wanted = query * n_items + item
    at = np.minimum(np.searchsorted(shown, wanted), len(shown) - 1)
    keep = (query >= 0) & (item >= 0) & (shown[at] == wanted)
    return (
        query[keep].astype(np.int64),
        item[keep].astype(np.int64),
        frame["relevance"].to_numpy(np.float64)[keep],
        views[at[keep]].astype(np.int64),
    )


MIN_VIEWS = (1, 10)


def ndcg_at_10(model, graded) -> dict[str, float]:
    """nDCG@10 of ranking each labelled query's shown urls by fitted attractiveness, over
    all labelled pairs and over those shown at least 10 times in training."""
    query, item, grade, views = graded
    score = model.pair_params(query, item[:, None])["attractiveness"].value[:, 0]
    return {f"ndcg@10_views>={v}": _ndcg(query, score, grade, views >= v) for v in MIN_VIEWS}


def baseline_ndcg(graded, train: LoggedPages) -> dict[str, dict[str, float]]:
    """nDCG@10 of a random order (mean of 20), of the pairs' raw click-through rate and
    of their mean logged rank (the production ranker's own order)."""
    query, item, grade, views = graded
    n_items = len(train.item_ids)
    keys = (train.query[:, None] * n_items + train.item_index)[train.shown]
    ranks = np.broadcast_to(np.arange(train.slate_size), train.shown.shape)[train.shown]
    frame = pd.DataFrame({"click": train.clicks[train.shown], "rank": ranks}, index=keys)
    means = frame.groupby(level=0).mean().reindex(query * n_items + item)
    rng = np.random.default_rng(0)
    out = {}
    for v in MIN_VIEWS:
        keep = views >= v
        random = [_ndcg(query, rng.random(len(query)), grade, keep) for _ in range(20)]
        out[f"views>={v}"] = {
            "random": float(np.mean(random)),
            "ctr": _ndcg(query, means["click"].to_numpy(), grade, keep),
            "logged_rank": _ndcg(query, -means["rank"].to_numpy(), grade, keep),
        }
    return out


def _ndcg(
    query: np.ndarray, score: np.ndarray, grade: np.ndarray, keep: np.ndarray, k: int = 10
) -> float:
    """Mean nDCG@k over queries of the kept pairs; gain ``2^grade - 1``, log2 discount;
    ties in ``score`` are broken in a fixed random order."""
    query, score, grade = query[keep], score[keep], grade[keep]
    jitter = np.random.default_rng(0).permutation(len(query))

    def dcg(order: np.ndarray) -> np.ndarray:
        q, g = query[order], grade[order].astype(np.float64)
        start = np.r_[0, np.flatnonzero(q[1:] != q[:-1]) + 1]
        rank = np.arange(len(q)) - np.repeat(start, np.diff(np.r_[start, len(q)]))
        return np.add.reduceat(np.where(rank < k, (2**g - 1) / np.log2(rank + 2), 0.0), start)

    actual = dcg(np.lexsort((jitter, -score, query)))
    ideal = dcg(np.lexsort((jitter, -grade, query)))
    valid = ideal > 0
    return float(np.mean(actual[valid] / ideal[valid]))


def evaluate(name: str, train, test, graded, args) -> dict:
    """Our fit (best of ``repeats``), its held-out figures and nDCG, and the peer's."""
    seconds, model = best_of(
        lambda: make_click_model(name, n_iterations=args.iterations).fit(train), args.repeats
    )
    ll, pp = model.evaluate(test)
    entry = {
        "fit_seconds": seconds,
        "log_likelihood": ll.mean,
        "perplexity": pp.mean,
        "perplexity_per_rank": pp.per_rank.round(4).tolist(),
        "log_likelihood_per_rank": ll.per_rank.round(5).tolist(),
    }
    if "attractiveness" in CLICK_MODELS[name].pair_param_names:
        entry.update(ndcg_at_10(model, graded))
    if not args.no_peer and name in PEER_MODELS:
        peer_seconds, peer_ll = peer_fit_and_ll(name, train, test, args.iterations)
        entry.update(
            peer_seconds=peer_seconds,
            peer_log_likelihood=peer_ll,
            log_likelihood_difference=ll.mean - peer_ll,
            speed_up=peer_seconds / seconds,
        )
    return entry


def print_row(name: str, entry: dict) -> None:
    nan = float("nan")
    print(
        f"{name:>10} {entry['fit_seconds']:8.3f} {entry['log_likelihood']:9.5f}"
        f" {entry['perplexity']:7.4f} {entry.get('ndcg@10_views>=1', nan):7.4f}"
        f" {entry.get('ndcg@10_views>=10', nan):7.4f} {entry.get('peer_seconds', nan):8.2f}"
        f" {entry.get('peer_log_likelihood', nan):9.5f} {entry.get('speed_up', nan):7.0f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--iterations", type=int, default=50, help="EM iterations, both sides")
    parser.add_argument("--repeats", type=int, default=3, help="our fits: best of N")
    parser.add_argument("--no-peer", action="store_true", help="skip the per-session loop")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"CLARA2 data not found at {args.data}; pass --data")
    pages, (frame, labels) = load(args.data)
    train, test = split(pages)
    print(f"CLARA2: {len(pages)} pages; train {len(train)}, test {len(test)} (seen queries)")
    from fusionrank.datasets import map_label_queries

    graded = mapped_labels(map_label_queries(labels, frame), labels, train)
    print(
        f"labels: {len(graded[0])} labelled (query, url) pairs shown in training, of"
        f" {len(np.unique(graded[0]))} log queries (label queries mapped by url overlap);"
        f" {int((graded[3] >= 10).sum())} shown >= 10 times"
    )
    print(
        f"{'model':>10} {'fit s':>8} {'LL':>9} {'PP':>7} {'nDCG':>7} {'nDCG10+':>7}"
        f" {'peer s':>8} {'peer LL':>9} {'speed':>8}"
    )
    results = {}
    for name in MODELS:
        results[name] = evaluate(name, train, test, graded, args)
        print_row(name, results[name])
    print("perplexity per rank 1..10:")
    for name, entry in results.items():
        print(f"{name:>10} " + " ".join(f"{v:.3f}" for v in entry["perplexity_per_rank"]))
    results["ndcg_baselines"] = baseline_ndcg(graded, train)
    for views, row in results["ndcg_baselines"].items():
        print(
            f"nDCG@10 baselines, pairs with {views}: "
            + ", ".join(f"{k} {v:.4f}" for k, v in row.items())
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
