"""Fixtures for the evaluation tests: the tiny ShopWorld's hidden truth as the users, its
text search's candidate pools, and real rankers over them (oracle, text order, random)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.evaluation.rankers import ScoreTable, ShuffledPool
from fusionrank.evaluation.shopworld import (
    ShopWorldJudge,
    shopworld_pools,
    shopworld_reformulation,
    shopworld_traffic,
)
from fusionrank.evaluation.traffic import Reformulator
from fusionrank.simulator.traffic import QuerySampler

POOL_SIZE = 30


@dataclass(frozen=True, eq=False)
class World:
    truth: HiddenTruth
    sampler: QuerySampler
    judge: ShopWorldJudge
    reformulate: Reformulator
    query_ids: np.ndarray
    pool: np.ndarray
    text_scores: np.ndarray
    grades: np.ndarray

    def oracle(self) -> ScoreTable:
        """Sorts each pool by true relevance (text score breaks ties)."""
        return ScoreTable(
            self.query_ids, self.pool, self.grades + 0.01 * self.text_scores, "oracle"
        )

    def text(self) -> ScoreTable:
        """The shop's text search order."""
        return ScoreTable(self.query_ids, self.pool, self.text_scores, "text")

    def noisy(self, noise: float, seed: int) -> ScoreTable:
        """True relevance seen through fixed Gaussian noise of sd ``noise``: a weak ranker."""
        jitter = np.random.default_rng(seed).normal(0.0, noise, self.pool.shape)
        return ScoreTable(self.query_ids, self.pool, self.grades + jitter, f"noisy{noise}")

    def random(self, seed: int) -> ShuffledPool:
        return ShuffledPool(self.query_ids, self.pool, np.random.default_rng(seed))


@pytest.fixture(scope="session")
def world(tiny_world: Path) -> World:
    truth = HiddenTruth.load(tiny_world / "truth")
    catalog = pd.read_parquet(tiny_world / "data" / "catalog.parquet")
    query_ids, pool, text = shopworld_pools(truth, catalog, POOL_SIZE, np.random.default_rng(0))
    grades = truth.relevance(truth.query_index(query_ids), pool).astype(np.float64)
    return World(
        truth=truth,
        sampler=shopworld_traffic(truth),
        judge=ShopWorldJudge(truth),
        reformulate=shopworld_reformulation(truth),
        query_ids=query_ids,
        pool=pool,
        text_scores=text,
        grades=grades,
    )


def build_tiny_run(world: Path, run_dir: Path) -> Path:
    """A run folder on the tiny world: its retriever (text + lexical, no images), the
    simulator fitted on its logs (retriever features), and three saved baseline policies
    (the retriever's default order, a text-only static fusion, the logging policy)."""
    import shutil

    from fusionrank.agents.baselines import DefaultOrder, LoggingPolicy, StaticFusion
    from fusionrank.datasets import load_catalog
    from fusionrank.retrieval.config import RetrievalConfig
    from fusionrank.retrieval.retriever import Retriever
    from fusionrank.simulator.data import catalog_prices, load_fit_data
    from fusionrank.simulator.fitting import fit_simulator

    shutil.copytree(world, run_dir / "world")
    data = run_dir / "world" / "data"
    catalog = load_catalog(data / "catalog.parquet", check_images=False)
    config = RetrievalConfig(image=False, k_per_modality=50, k=40)
    retriever = Retriever.build(catalog, config, run_dir / "retrieval")
    retriever.save(run_dir / "retrieval")
    retriever = Retriever.load(run_dir / "retrieval")
    pages, loaded = load_fit_data(data / "logs.parquet", data / "catalog.parquet")
    fit_simulator(pages, retriever, catalog_prices(loaded)).save(run_dir / "simulator" / "model")
    names = (retriever.modality_names, retriever.feature_names)
    policies = run_dir / "policies"
    DefaultOrder.create(*names).save(policies / "default-order")
    text_only = np.eye(len(names[0]))[names[0].index("text")]
    StaticFusion(text_only, name="text-only", modality_names=names[0], feature_names=names[1]).save(
        policies / "text-only"
    )
    LoggingPolicy.fit(pages, *names).save(policies / "logging")
    return run_dir


@pytest.fixture(scope="session")
def tiny_run(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``build_tiny_run`` on the tiny world, once per test session (about 20-60 s)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return build_tiny_run(tiny_world, tmp_path_factory.mktemp("run") / "tiny-run")
