"""Generate a whole ShopWorld: the user-facing files and, apart, the hidden truth.

```
<out>/data/catalog.parquet   item_id, title, description, image_path, price, category, brand
<out>/data/images/           one PNG per item (unless images are off)
<out>/data/logs.parquet      one row per result page, in fusionrank's log schema
<out>/truth/                 the hidden truth (HiddenTruth.save), read only by evaluation
<out>/summary.json           what was generated, and how long it took
```
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fusionrank import progress
from fusionrank.datasets.shopworld.catalog import Items, sample_hidden_combinations, sample_items
from fusionrank.datasets.shopworld.config import ShopWorldConfig
from fusionrank.datasets.shopworld.images import render_all, render_jobs
from fusionrank.datasets.shopworld.lexical import TfidfScorer
from fusionrank.datasets.shopworld.logs import LoggingPolicy, item_ids, simulate_sessions
from fusionrank.datasets.shopworld.needs import INTENTS, Needs, sample_needs
from fusionrank.datasets.shopworld.plackett_luce import marginals
from fusionrank.datasets.shopworld.texts import item_texts, query_text
from fusionrank.datasets.shopworld.truth import HiddenTruth, UserModel
from fusionrank.datasets.shopworld.vocab import CATEGORIES, brand_names
from fusionrank.io import atomic_dir, atomic_path, write_json
from fusionrank.runs import WorldFolder
from fusionrank.seeding import int_seed, rng

logger = logging.getLogger(__name__)


def _queries(needs: Needs, n_variants: int, brands: tuple[str, ...]) -> pd.DataFrame:
    """Every wording of every need, with distinct texts and ids ``q00000`` onwards."""
    rows, seen = [], set()
    for need in range(len(needs)):
        variant_texts = []
        for attempt in range(4 * n_variants):
            text = query_text(needs.constraints[need], brands, attempt)
            if text not in seen:
                seen.add(text)
                variant_texts.append(text)
            if len(variant_texts) == n_variants:
                break
        for variant, text in enumerate(variant_texts):
            rows.append((need, variant, text))
    frame = pd.DataFrame(rows, columns=["need", "variant", "query_text"])
    frame.insert(0, "query_id", [f"q{i:05d}" for i in range(len(frame))])
    return frame


def _catalog(
    items: Items, brands: tuple[str, ...], titles: list[str], descriptions: list[str], images: bool
) -> pd.DataFrame:
    ids = item_ids(len(items))
    frame = pd.DataFrame(
        {
            "item_id": ids,
            "title": titles,
            "description": descriptions,
            "price": items.price,
            "category": np.array([c.name for c in CATEGORIES])[items.category],
            "brand": np.asarray(brands)[items.brand],
        }
    )
    if images:
        frame.insert(3, "image_path", np.char.add(np.char.add("images/", ids), ".png"))
    return frame


def build_truth(config: ShopWorldConfig, seed: int) -> tuple[HiddenTruth, pd.DataFrame]:
    """Draw the world's products, needs and users. Returns the truth and the catalog."""
    world_rng = rng(seed, "world")
    visual_like = config.intents.visual + config.intents.mixed
    hidden_share = min(0.9, 1.2 * config.image_only_query_share / max(visual_like, 1e-9))
    hidden = sample_hidden_combinations(hidden_share, world_rng)
    brands = brand_names(config.n_brands, world_rng)
    items = sample_items(config.n_items, config.n_brands, hidden, world_rng)
    titles, descriptions = item_texts(items, brands, world_rng)
    needs = sample_needs(
        items,
        config.n_needs,
        config.intents.model_dump(),
        config.image_only_query_share,
        config.query_zipf_exponent,
        world_rng,
    )
    queries = _queries(needs, config.n_query_variants, brands)
    truth = HiddenTruth(
        items=items,
        needs=needs,
        query_ids=queries["query_id"].to_numpy(object),
        query_texts=queries["query_text"].to_numpy(object),
        query_need=queries["need"].to_numpy(np.int64),
        query_variant=queries["variant"].to_numpy(np.int64),
        brands=brands,
        model=UserModel(),
    )
    return truth, _catalog(items, brands, titles, descriptions, config.images)


def logging_policy(
    truth: HiddenTruth, catalog: pd.DataFrame, config: ShopWorldConfig, seed: int
) -> LoggingPolicy:
    """The shop's text search as a Plackett-Luce policy over each query's pool."""
    scorer = TfidfScorer((catalog["title"] + " " + catalog["description"]).tolist())
    tie_breaker = rng(seed, "logs").random(len(catalog))
    pool, scores = scorer.top(list(truth.query_texts), config.candidate_pool, tie_breaker)
    log_weights = scores / config.logging_temperature
    n_ranks = config.slate_size * config.max_pages
    return LoggingPolicy(
        pool=pool, log_weights=log_weights, marginals=marginals(log_weights, n_ranks)
    )


def generate_world(
    config: ShopWorldConfig, seed: int, out: str | Path, fingerprint: str | None = None
) -> dict[str, Any]:
    """Generate ShopWorld into ``out`` (replaced atomically) and return its summary.

    Args:
        config: The world's configuration.
        seed: The root seed; the world and logs streams are split from it.
        out: Target folder; an existing one is replaced only once the new one is complete.
        fingerprint: Stored in the summary so that a rerun can tell it may reuse the world.
    """
    started = time.perf_counter()
    out = Path(out)
    with progress.task("world: products, needs, users", total=3) as advance:
        truth, catalog = build_truth(config, seed)
        advance(1)
        policy = logging_policy(truth, catalog, config, seed)
        advance(1)
        logs = simulate_sessions(
            truth, policy, config.n_pages, config.slate_size, config.max_pages, rng(seed, "logs")
        )
        advance(1)
    with atomic_dir(out) as tmp:
        folder = WorldFolder(tmp)
        data = folder.data
        data.mkdir()
        if config.images:
            paths = [data / p for p in catalog["image_path"]]
            jobs = render_jobs(
                paths,
                truth.items.category,
                truth.items.colour,
                truth.items.pattern,
                truth.items.appeal,
                config.image_size,
                int_seed(seed, "world"),
            )
            with progress.task("world: rendering images", total=len(jobs)) as advance:
                render_all(jobs, n_workers=min(2, os.cpu_count() or 1), advance=advance)
        with atomic_path(folder.catalog) as path:
            catalog.to_parquet(path, index=False)
        with atomic_path(folder.logs) as path:
            pq.write_table(logs, path)
        truth.save(folder.truth)
        summary = summarize(truth, logs, config, seed, time.perf_counter() - started)
        summary["fingerprint"] = fingerprint
        write_json(folder.summary, summary)
    logger.info("ShopWorld written to %s in %.1f s", out, summary["seconds"])
    return summary


def summarize(
    truth: HiddenTruth, logs: pa.Table, config: ShopWorldConfig, seed: int, seconds: float
) -> dict[str, Any]:
    """Figures that describe a generated world (logs and hidden truth)."""
    clicks = np.asarray(logs["clicks"].combine_chunks().flatten()).reshape(-1, config.slate_size)
    purchases = np.asarray(logs["purchases"].combine_chunks().flatten()).reshape(
        -1, config.slate_size
    )
    sessions = logs["session_id"].to_numpy()
    n_sessions = len(np.unique(sessions))
    intent = np.asarray(INTENTS)[truth.needs.intent[truth.query_need]]
    return {
        "seed": seed,
        "seconds": round(seconds, 2),
        "n_items": len(truth.items),
        "images": config.images,
        "n_needs": len(truth.needs),
        "n_queries": truth.n_queries,
        "queries_by_intent": {i: int((intent == i).sum()) for i in INTENTS},
        "image_only_query_share": float(truth.needs.image_only[truth.query_need].mean()),
        "n_pages": logs.num_rows,
        "n_sessions": n_sessions,
        "clicks_per_page": float(clicks.sum(1).mean()),
        "ctr_by_rank": [round(float(v), 4) for v in clicks.mean(0)],
        "purchases_per_session": float(purchases.sum() / n_sessions),
        "pages_per_session": logs.num_rows / n_sessions,
    }
