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
from fusionrank.evaluation.traffic import QuerySampler, Reformulator

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
