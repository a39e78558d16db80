"""What every environment is built from, prepared once: the retriever's candidate pool
for every distinct query of the logs, their query features, the default fused candidates,
the traffic and the logged reformulations, and the fitted user simulator.

Building it runs the encoders and FAISS once per distinct query; afterwards an env step
only indexes these arrays, fuses with numpy and samples the simulator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.envs.config import EnvConfig
from fusionrank.retrieval.pool import CandidatePool, fuse
from fusionrank.retrieval.retriever import Retriever
from fusionrank.runs import RunFolder
from fusionrank.simulator.session import REFORMULATE, session_outcomes
from fusionrank.simulator.traffic import QuerySampler
from fusionrank.simulator.user_simulator import UserSimulator
from fusionrank.types import CandidateBatch, LoggedPages, Query

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Reformulations:
    """Logged rewordings as a CSR table over pool rows.

    Args:
        start: int64, shape (Q,): first target of each row in ``targets``.
        count: int64, shape (Q,): number of targets (0: the user retypes the same query).
        targets: int64, shape (T,): pool rows that followed a row in a logged session.
    """

    start: np.ndarray
    count: np.ndarray
    targets: np.ndarray

    def draw(self, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """int64 (n,): a logged next query of each row (uniform over its logged hops)."""
        offset = (rng.random(rows.shape[0]) * self.count[rows]).astype(np.int64)
        has = self.count[rows] > 0
        picked = self.targets[np.minimum(self.start[rows] + offset, max(len(self.targets) - 1, 0))]
        return np.where(has, picked, rows) if len(self.targets) else rows.copy()

    @classmethod
    def from_pages(cls, pages: LoggedPages, row_of_query: np.ndarray) -> Reformulations:
        """Hops ``query -> next query`` of consecutive pages of a session whose outcome
        was a reformulation, mapped to pool rows by ``row_of_query`` (int64, per query)."""
        outcome = session_outcomes(pages).outcome
        order = np.lexsort((np.arange(len(pages)), pages.timestamp, pages.session))
        same = pages.session[order][1:] == pages.session[order][:-1]
        moved = same & (outcome[order][:-1] == REFORMULATE)
        source = row_of_query[pages.query[order][:-1][moved]]
        target = row_of_query[pages.query[order][1:][moved]]
        by = np.lexsort((target, source))
        n_rows = int(row_of_query.max()) + 1
        count = np.bincount(source, minlength=n_rows).astype(np.int64)
        start = np.r_[0, np.cumsum(count)[:-1]].astype(np.int64)
        return cls(start=start, count=count, targets=target[by].astype(np.int64))


@dataclass(frozen=True, eq=False)
class EnvComponents:
    """The prepared parts of every env.

    Args:
        retriever: The first-stage retriever.
        simulator: The fitted user simulator (the users of training).
        pool: The candidate pool of every distinct logged query (Q rows).
        query_features: float32, shape (Q, Dq): ``retriever.query_features``.
        candidates: The default-weight fused top-K of every query (Q rows, K slots).
        sim_query: int64, shape (Q,): each row's query index in the simulator.
        traffic: float64, shape (Q,): probability that a session starts with each row.
        reformulations: Logged rewordings between rows.
        default_weights: float32, shape (M,): the retriever's default fusion weights.
        config: The env config the parts were built for.
    """

    retriever: Retriever
    simulator: UserSimulator
    pool: CandidatePool
    query_features: np.ndarray
    candidates: CandidateBatch
    sim_query: np.ndarray
    traffic: np.ndarray
    reformulations: Reformulations
    default_weights: np.ndarray
    config: EnvConfig

    @property
    def n_queries(self) -> int:
        return len(self.pool)

    @property
    def query_ids(self) -> np.ndarray:
        """object, shape (Q,): the query id of each row."""
        return np.array([q.query_id for q in self.pool.queries], dtype=object)

    def sample_rows(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """int64 (n,): pool rows drawn by their share of the logged traffic."""
        cdf = np.cumsum(self.traffic)
        rows = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
        return np.minimum(rows, self.n_queries - 1).astype(np.int64)

    @classmethod
    def build(
        cls,
        retriever: Retriever,
        simulator: UserSimulator,
        pages: LoggedPages,
        config: EnvConfig,
    ) -> EnvComponents:
        """Pool every distinct query of ``pages`` once and prepare the env's arrays.

        Args:
            retriever: The run's retriever.
            simulator: The run's fitted simulator.
            pages: The logs (traffic shares and reformulations); never the hidden truth.
            config: The env config.
        """
        ids = np.asarray(pages.query_ids, dtype=object)
        texts = np.asarray(pages.query_texts, dtype=object)
        queries = [Query(str(i), str(t)) for i, t in zip(ids, texts, strict=True)]
        pool = retriever.pool(queries, config.k_per_modality)
        query_features = retriever.query_features(queries)
        weights = retriever.default_weights(1)[0]
        candidates = fuse(pool, np.broadcast_to(weights, (len(pool), weights.size)), config.k)
        simulator.add_queries(ids, texts)
        sim_query = simulator.query_index(ids)
        if config.warm_cache:
            simulator.params(sim_query, pool.item_index)
        sampler = QuerySampler.from_pages(pages)
        at = pd.Index(ids.astype(str)).get_indexer(pd.Index(sampler.query_ids.astype(str)))
        traffic = np.zeros(len(ids))
        traffic[at] = sampler.weights
        reformulations = Reformulations.from_pages(pages, np.arange(len(ids), dtype=np.int64))
        logger.info("envs: pooled %d queries, %d slots each", len(pool), pool.size)
        return cls(
            retriever=retriever,
            simulator=simulator,
            pool=pool,
            query_features=query_features.astype(np.float32),
            candidates=candidates,
            sim_query=sim_query,
            traffic=traffic,
            reformulations=reformulations,
            default_weights=weights.astype(np.float32),
            config=config,
        )


def load_components(run: RunFolder | str | Path, config: EnvConfig) -> EnvComponents:
    """Load a run's retriever, fitted simulator and logs (its recorded inputs), and build.

    Raises:
        ValueError: If a part is missing; the message names the command that makes it.
    """
    from fusionrank.retrieval.stages import load_run_retriever
    from fusionrank.simulator.data import load_fit_data

    run = RunFolder.at(run)
    retriever = load_run_retriever(run)
    run.require("the fitted simulator", run.simulator.model, "sim fit")
    inputs = run.inputs()
    pages, _ = load_fit_data(inputs.logs, inputs.catalog)
    simulator = UserSimulator.load(run.simulator.model, retriever)
    return EnvComponents.build(retriever, simulator, pages, config)
