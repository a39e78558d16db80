"""The best static fusion weights: one weight vector for every query, chosen in the
fitted simulator.

The search maximises the traffic-weighted expected page reward

``J(w) = sum_q p(q) * reward(simulator.expected_page(q, fuse(pool_q, w)[:L]))``

over the simplex, where ``p(q)`` is the share of logged sessions that start with query
``q`` and ``reward`` is :func:`~fusionrank.agents.baselines.common.page_reward`. ``J`` is
piecewise constant in ``w`` (it changes only where two candidates swap), so a gradient
or simplex method (Nelder-Mead) stalls on its plateaus; instead every point of a regular
simplex grid is evaluated, then (``refine``) a grid four times finer within one step of
the best point. Only the fitted simulator is read, never ShopWorld's hidden truth.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from fusionrank import progress
from fusionrank.agents.baselines.common import fused_scores, page_reward
from fusionrank.agents.baselines.config import BaselinesConfig
from fusionrank.agents.policy import Policy, policy_args
from fusionrank.types import CandidateBatch, LoggedPages, Query

if TYPE_CHECKING:
    from fusionrank.retrieval.pool import CandidatePool
    from fusionrank.retrieval.retriever import Retriever
    from fusionrank.simulator.user_simulator import UserSimulator

logger = logging.getLogger(__name__)


def simplex_grid(n_modalities: int, step: float) -> np.ndarray:
    """Every weight vector whose entries are multiples of ``step`` and sum to 1.

    Returns:
        float64, shape (G, M) with ``G = C(n + M - 1, M - 1)``, ``n = 1 / step``; e.g.
        M = 3, step = 0.05 gives 231 points.
    """
    if n_modalities < 1:
        raise ValueError(f"n_modalities must be >= 1, got {n_modalities}")
    n = round(1 / step)
    heads = np.array(list(itertools.product(range(n + 1), repeat=n_modalities - 1)), np.int64)
    heads = heads.reshape(-1, n_modalities - 1)
    heads = heads[heads.sum(axis=1) <= n]
    points = np.concatenate([heads, n - heads.sum(axis=1, keepdims=True)], axis=1)
    return points.astype(np.float64) / n


def logged_traffic(pages: LoggedPages) -> tuple[list[Query], np.ndarray]:
    """The logged queries and their traffic shares (sessions that start with them).

    Returns:
        ``(queries, share)``: Q queries and float64 (Q,) shares summing to 1.
    """
    from fusionrank.simulator.traffic import QuerySampler

    sampler = QuerySampler.from_pages(pages)
    position = {str(q): i for i, q in enumerate(pages.query_ids)}
    texts = [str(pages.query_texts[position[str(q)]]) for q in sampler.query_ids]
    queries = [Query(str(q), t) for q, t in zip(sampler.query_ids, texts, strict=True)]
    return queries, sampler.weights


class FusionObjective:
    """``J(w)`` of the module docstring for a fixed set of queries.

    Args:
        pool: The queries' candidate pools (``Retriever.pool``), B queries.
        share: float64, shape (B,): traffic share of each query.
        simulator: The fitted simulator (knows the queries; see ``add_queries``).
        reward: Weights of purchases, revenue and clicks.
        slate_size: Ranks of the page, L.
    """

    def __init__(
        self,
        pool: CandidatePool,
        share: np.ndarray,
        simulator: UserSimulator,
        reward: Mapping[str, float],
        slate_size: int,
    ) -> None:
        self.pool = pool
        self.share = np.asarray(share, dtype=np.float64)
        self.simulator = simulator
        self.reward = dict(reward)
        self.slate_size = slate_size
        self.query_ids = np.array([q.query_id for q in pool.queries], dtype=object)

    def __call__(self, weights: np.ndarray) -> float:
        """J(w) for one weight vector, float64 (M,) on the simplex."""
        from fusionrank.retrieval.pool import fuse

        batch_weights = np.broadcast_to(weights, (len(self.pool), weights.shape[0]))
        batch = fuse(self.pool, batch_weights, self.slate_size)
        outcomes = self.simulator.expected_page(self.query_ids, batch.item_index)
        return float(self.share @ page_reward(outcomes, self.reward))

    def search(self, points: np.ndarray, desc: str) -> np.ndarray:
        """J of every row of ``points`` (float64 (G, M)), as float64 (G,)."""
        values = np.empty(len(points))
        with progress.task(desc, total=len(points)) as advance:
            for i, point in enumerate(points):
                values[i] = self(point)
                advance(1)
        return values


def best_static_weights(
    objective: FusionObjective, n_modalities: int, step: float, refine: bool
) -> tuple[np.ndarray, float, int]:
    """The grid point with the largest J (ties: the first in grid order), refined.

    Returns:
        ``(weights float64 (M,), J, points evaluated)``.
    """
    grid = simplex_grid(n_modalities, step)
    values = objective.search(grid, "static fusion: grid")
    best = int(np.argmax(values))
    weights, value, n_points = grid[best], float(values[best]), len(grid)
    if refine and n_modalities > 1:
        fine = simplex_grid(n_modalities, step / 4)
        near = fine[np.abs(fine - weights).max(axis=1) <= step + 1e-9]
        near_values = objective.search(near, "static fusion: refine")
        n_points += len(near)
        if near_values.max() > value:
            weights, value = near[int(np.argmax(near_values))], float(near_values.max())
    return weights, value, n_points


class StaticFusion(Policy):
    """One fusion weight vector for every query, ranked by the fused score.

    Args:
        weights: float64, shape (M,), on the simplex (axis order ``modality_names``).
        **kwargs: :class:`Policy` arguments.
    """

    kind: ClassVar[str] = "static-fusion"

    def __init__(self, weights: np.ndarray | Sequence[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.weights = np.asarray(weights, dtype=np.float64)
        if self.weights.shape != (len(self.modality_names),):
            raise ValueError(
                f"static fusion weights must have shape ({len(self.modality_names)},) for "
                f"modalities {list(self.modality_names)}, got {self.weights.shape}"
            )
        if np.any(self.weights < 0) or abs(self.weights.sum() - 1) > 1e-6:
            raise ValueError(f"static fusion weights {self.weights.tolist()} must be >= 0, sum 1")
        self.config["weights"] = dict(zip(self.modality_names, self.weights.tolist(), strict=True))

    def fusion_weights(
        self, queries: Sequence[Query], query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 (B, M): the same weights for every query."""
        return np.broadcast_to(self.weights, (len(queries), self.weights.shape[0])).copy()

    def scores(
        self, candidates: CandidateBatch, query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 (B, K): the fused score, ``-inf`` where ``candidates.mask`` is False."""
        self.check_candidates(candidates)
        return fused_scores(candidates)

    @classmethod
    def fit(
        cls,
        retriever: Retriever,
        simulator: UserSimulator,
        pages: LoggedPages,
        config: BaselinesConfig,
    ) -> StaticFusion:
        """Search the simplex for the weights with the best expected reward in the fitted
        simulator over the logged traffic (see the module docstring)."""
        queries, share = logged_traffic(pages)
        simulator.add_queries([q.query_id for q in queries], [q.text for q in queries])
        reward = {str(name): weight for name, weight in config.reward.items()}
        objective = FusionObjective(
            retriever.pool(queries), share, simulator, reward, config.slate_size
        )
        m = len(retriever.modality_names)
        weights, value, n_points = best_static_weights(
            objective, m, config.grid_step, config.refine
        )
        default = objective(retriever.default_weights(1)[0].astype(np.float64))
        logger.info("static fusion: J=%.5f at %s (default weights: %.5f)", value, weights, default)
        return cls(
            weights,
            name="static-fusion",
            modality_names=retriever.modality_names,
            feature_names=retriever.feature_names,
            config={
                "reward": dict(config.reward),
                "slate_size": config.slate_size,
                "grid_step": config.grid_step,
            },
            metrics={
                "simulator_reward": value,
                "default_weights_reward": default,
                "points_evaluated": n_points,
                "queries": len(queries),
            },
        )

    @classmethod
    def _from_saved(cls, folder: Path, meta: dict[str, Any]) -> StaticFusion:
        saved = meta["config"]["weights"]
        return cls(
            [saved[name] for name in meta["modality_names"]],
            **policy_args(meta),
        )
