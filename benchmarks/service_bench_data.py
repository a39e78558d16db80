"""The traffic of ``service_latency.py``: unique queries (ShopWorld's logged queries with
two catalog words added, so each is new to the service), their candidates (the run's
retriever's top K), cached queries, invalid requests, and a policy copy cut short."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

K = 100
N_CACHED = 50


@dataclass
class Traffic:
    """Request bodies of every row (``[path, body, kind]`` where the row mixes kinds)."""

    unique: tuple[list[dict], list[dict]]
    unique_warmup: tuple[list[dict], list[dict]]
    cached: list[dict]
    cached_bodies: list[dict]
    feature_bodies: list[dict]
    faults: list[list[Any]]
    fault_warmup: list[list[Any]]
    inproc_unique: list[dict]


def unique_queries(logs: Path, catalog: Path, n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """``(base queries, n new distinct queries)``: each new one a logged query plus two
    words of the catalog's titles."""
    bases = sorted(pd.read_parquet(logs, columns=["query_text"])["query_text"].astype(str).unique())
    titles = pd.read_parquet(catalog, columns=["title"])["title"].astype(str)
    vocab = sorted({w for t in titles for w in re.findall(r"[a-z]{3,}", t.lower())})
    rng = np.random.default_rng(seed)
    seen, out = set(bases), []
    while len(out) < n:
        base = bases[rng.integers(len(bases))]
        text = f"{base} {vocab[rng.integers(len(vocab))]} {vocab[rng.integers(len(vocab))]}"
        if text not in seen:
            seen.add(text)
            out.append(text)
    return bases, out


def candidates(retriever: Any, texts: list[str], k: int = K) -> list[dict]:
    """``{"query", "item_ids"}`` bodies: the retriever's top ``k`` of each text (what a
    search stack with this first stage would send)."""
    from fusionrank.types import Query

    bodies = []
    for start in range(0, len(texts), 256):
        chunk = texts[start : start + 256]
        found = retriever.search([Query(str(i), t) for i, t in enumerate(chunk)], k)
        for row, text in enumerate(chunk):
            items = found.item_index[row][found.mask[row]]
            bodies.append({"query": text, "item_ids": [str(retriever.item_ids[i]) for i in items]})
    return bodies


def make_traffic(run: Path, logs: Path | None, tmp: Path, args: Any) -> Traffic:
    """Every row's bodies for the rates and seconds of ``args`` (see the driver)."""
    from fusionrank.retrieval.retriever import Retriever
    from fusionrank.runs import RunFolder
    from fusionrank.service.config import ServiceConfig
    from fusionrank.service.loading import serving_retriever
    from fusionrank.types import Query

    folder = RunFolder(run)
    inputs = folder.inputs()
    sizes = [
        int(args.unique_rate * args.seconds), int(args.unique_rate * args.warmup),
        int(2 * args.unique_rate * args.seconds), int(2 * args.unique_rate * args.warmup),
        int(args.fault_rate * args.seconds * 2 / 3) + 1, 300,
    ]  # fmt: skip
    bases, texts = unique_queries(logs or inputs.logs, inputs.catalog, sum(sizes))
    config = ServiceConfig(exports_dir=str(tmp / "exports"))
    retriever = serving_retriever(Retriever.load(folder.retrieval.path), config, tmp / "exports")
    bodies = candidates(retriever, texts)
    parts, at = [], 0
    for size in sizes:
        parts.append(bodies[at : at + size])
        at += size
    cached = candidates(retriever, bases[:N_CACHED])
    found = retriever.search([Query("q", b["query"]) for b in cached[:4]], K)
    feature_bodies = [
        {**body, "features": found.features[i][found.mask[i]].round(5).tolist()}
        for i, body in enumerate(cached[:4])
    ]
    invalid = {"query": "x", "item_ids": ["a", "a"]}
    faults = []
    for i, body in enumerate(parts[4]):
        faults += [["/rerank", body, "unique"], ["/rerank", cached[i % len(cached)], "cached"],
                   ["/rerank", invalid, "invalid"]]  # fmt: skip
    return Traffic(
        unique=(parts[0], parts[2]),
        unique_warmup=(parts[1], parts[3]),
        cached=cached,
        cached_bodies=cached,
        feature_bodies=feature_bodies,
        faults=faults,
        fault_warmup=[["/rerank", b, "cached"] for b in cached],
        inproc_unique=parts[5],
    )


def corrupt_copy(policy: Path, folder: Path, keep_bytes: int = 1000) -> Path:
    """A copy of a LambdaMART policy whose ``model.txt`` is cut to ``keep_bytes``, with
    ``policy.json`` rewritten to match it (file hashes and version)."""
    from fusionrank.agents.policy_files import POLICY_FILE, file_hashes, policy_version

    shutil.copytree(policy, folder)
    model = folder / "model.txt"
    model.write_bytes(model.read_bytes()[:keep_bytes])
    meta = json.loads((folder / POLICY_FILE).read_text())
    meta["files"] = file_hashes(folder)
    meta["version"] = policy_version(meta)
    (folder / POLICY_FILE).write_text(json.dumps(meta))
    return folder
