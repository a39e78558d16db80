"""Photo queries on a ShopWorld run: recall@10 of shoppers' photos against typed queries.

For every visual need (and, for photo + text, every mixed need) of the world, a product
that fully fits it is photographed (:mod:`fusionrank.datasets.shopworld.photos`, default
strengths, seeded). Recall@10 against the hidden graded relevance of the need's first
wording, in the same run, of:

* the **typed** query through the run's retriever (default fusion weights);
* the **photo** through the run's CLIP image tower and image index, its scene replaced
  by a studio grey first (``suppress_background``), and the photo as it is (``keep``);
* **photo + text** (the typed words too), ``0.5 * z_photo + 0.5 * fused_text``;
* the photo through a **random-weights CLIP** of the same architecture (its own index of
  the catalog images): the chance baseline.

Then photo recall by photo-quality tercile and over a blur and a crop sweep. Needs a run
with an index (see ``benchmarks/speech_wer.py``):

    OMP_NUM_THREADS=1 python benchmarks/photo_queries.py --run runs/NAME

Measured on the default ShopWorld (seed 0), default photo strengths: visual needs (90)
recall@10 typed 0.326, photo 0.170 (0.018 without background suppression), photo + text
0.375, photo through a random-weights CLIP 0.047; mixed needs (90) typed 0.367, photo
0.135, photo + text 0.439, random CLIP 0.043. Photo recall falls from 0.224 to 0.097 as the
blur strength rises from 0 to 4 pixels, and from 0.197 to 0.135 as crop rises 0 to 1.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fusionrank.datasets import load_catalog
from fusionrank.datasets.shopworld.needs import INTENTS
from fusionrank.datasets.shopworld.photos import PhotoConfig, choose_products, photo_queries
from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.evaluation.retrieval import Judge
from fusionrank.retrieval.clip import load_clip
from fusionrank.retrieval.config import IndexConfig
from fusionrank.retrieval.encoders import ImageEncoder
from fusionrank.retrieval.index import build_index
from fusionrank.retrieval.metrics import retrieval_metrics
from fusionrank.retrieval.modality import DenseModality
from fusionrank.retrieval.photo import PhotoSearch
from fusionrank.retrieval.retriever import Retriever
from fusionrank.runs import RunFolder
from fusionrank.types import Query


def recall(judge: Judge, rows: np.ndarray, item_index: np.ndarray) -> np.ndarray:
    grades = judge.truth.relevance(rows, item_index[:, :10])
    metrics = retrieval_metrics(grades, judge.ideal[rows], judge.n_relevant[rows], (10,))
    return np.nan_to_num(metrics["recall@10"])


def need_queries(truth: HiddenTruth, intent: str) -> tuple[np.ndarray, np.ndarray]:
    """The needs of an intent and the query row of each one's first wording."""
    needs = np.flatnonzero(truth.needs.intent == INTENTS.index(intent))
    first = {int(n): q for q, n in enumerate(truth.query_need) if truth.query_variant[q] == 0}
    return needs, np.array([first[int(n)] for n in needs], dtype=np.int64)


def random_clip_search(retriever: Retriever, run: Path) -> PhotoSearch:
    """Photo search through a random-weights CLIP of the run's architecture."""
    record = retriever.manifest["clip"]
    clip = load_clip(record["model"], None, seed=0)
    catalog = load_catalog(RunFolder(run).world.catalog)
    vectors = ImageEncoder(clip).encode_items(catalog.image_paths(), "random CLIP: encode images")
    index = build_index(vectors, IndexConfig(), "random CLIP image index")
    return PhotoSearch(DenseModality("image", vectors, index, clip.encode_texts), clip)


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder (runs/NAME)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    return parser.parse_args()


def photo_searches(retriever: Retriever, run: Path) -> tuple[PhotoSearch, PhotoSearch, PhotoSearch]:
    """Photo search with the background suppressed, with it kept, and through a
    random-weights CLIP."""
    search = PhotoSearch.of(retriever)
    keep_search = PhotoSearch.of(retriever, search.encoder.clip, background="keep")
    return search, keep_search, random_clip_search(retriever, run)


def intent_figures(
    truth: HiddenTruth,
    retriever: Retriever,
    judge: Judge,
    searches: tuple[PhotoSearch, PhotoSearch, PhotoSearch],
    intent: str,
    config: PhotoConfig,
    seed: int,
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Recall@10 of each way of searching for an intent's needs, photo recall by quality
    tercile and timings; with the needs' query rows and their photographed products."""
    search, keep_search, random_search = searches
    needs, rows = need_queries(truth, intent)
    texts = [str(t) for t in truth.query_texts[rows]]
    products = choose_products(
        truth.needs.constraints[needs], truth.items.codes(), np.random.default_rng(seed)
    )
    started = time.perf_counter()
    photos = photo_queries(truth.items, products, config, seed)
    render_s = (time.perf_counter() - started) / len(photos)
    typed = retriever.search([Query(str(i), t) for i, t in enumerate(texts)], k=10)
    started = time.perf_counter()
    photo = search.search([p.pixels for p in photos], k=10)
    search_s = (time.perf_counter() - started) / len(photos)
    kept = keep_search.search([p.pixels for p in photos], k=10)
    mixed = search.search([p.pixels for p in photos], k=10, texts=texts)
    chance = random_search.search([p.pixels for p in photos], k=10)
    figures = {
        "n_needs": len(needs),
        "typed": float(recall(judge, rows, typed.item_index).mean()),
        "photo": float(recall(judge, rows, photo.item_index).mean()),
        "photo, background kept": float(recall(judge, rows, kept.item_index).mean()),
        "photo + text": float(recall(judge, rows, mixed.item_index).mean()),
        "photo, random-weights CLIP": float(recall(judge, rows, chance.item_index).mean()),
        "render_s_per_photo": render_s,
        "search_s_per_photo": search_s,
    }
    per_photo = recall(judge, rows, photo.item_index)
    quality = np.array([p.quality for p in photos])
    cuts = np.quantile(quality, [1 / 3, 2 / 3])
    tercile = np.digitize(quality, cuts)
    figures["photo_by_quality_tercile"] = [float(per_photo[tercile == t].mean()) for t in range(3)]
    return figures, rows, products


def print_figures(intent: str, figures: dict[str, Any]) -> None:
    """One line of an intent's figures."""
    print(
        f"{intent} needs (n={figures['n_needs']}): recall@10 typed {figures['typed']:.3f}  "
        f"photo {figures['photo']:.3f} "
        f"(background kept {figures['photo, background kept']:.3f})  "
        f"photo + text {figures['photo + text']:.3f}  "
        f"photo, random CLIP {figures['photo, random-weights CLIP']:.3f}; "
        f"photo by quality tercile (low..high) "
        f"{np.round(figures['photo_by_quality_tercile'], 3).tolist()}; "
        f"render {figures['render_s_per_photo'] * 1000:.0f} ms, "
        f"encode + search {figures['search_s_per_photo'] * 1000:.0f} ms per photo",
        flush=True,
    )


def photo_sweep(
    truth: HiddenTruth,
    search: PhotoSearch,
    judge: Judge,
    rows: np.ndarray,
    products: np.ndarray,
    config: PhotoConfig,
    seed: int,
) -> dict[str, float]:
    """Photo recall@10 over a blur and a crop sweep of the same products' photos; printed."""
    sweep = {}
    for name, update in [("blur", {"blur": b}) for b in (0.0, 1.0, 2.0, 4.0)] + [
        ("crop", {"crop": c}) for c in (0.0, 0.5, 1.0)
    ]:
        varied = photo_queries(truth.items, products, replace(config, **update), seed)
        result = search.search([p.pixels for p in varied], k=10)
        key = f"{name}={next(iter(update.values()))}"
        sweep[key] = float(recall(judge, rows, result.item_index).mean())
    print("visual needs, photo recall@10 by strength:", {k: round(v, 3) for k, v in sweep.items()})
    return sweep


def main() -> None:
    args = parse_args()

    import torch

    torch.set_num_threads(1)
    truth = HiddenTruth.load(RunFolder(args.run).world.truth)
    retriever = Retriever.load(RunFolder(args.run).retrieval.path)
    judge = Judge(truth, retriever.n_items, 10)
    searches = photo_searches(retriever, args.run)
    config = PhotoConfig()
    out: dict[str, Any] = {"photo_config": repr(config)}
    for intent in ("visual", "mixed"):
        figures, rows, products = intent_figures(
            truth, retriever, judge, searches, intent, config, args.seed
        )
        out[intent] = figures
        print_figures(intent, figures)
        if intent != "visual":
            continue
        out["visual"]["photo_sweep"] = photo_sweep(
            truth, searches[0], judge, rows, products, config, args.seed
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
