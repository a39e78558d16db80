"""Batched env cores: B envs stepped together in numpy, the engine of every env class.

A core keeps the state of B envs and draws from one ``numpy.random.Generator``. ``step``
takes actions float32 (B, A) and returns the next observations with ended envs already
reset (the "same step" autoreset of Gymnasium and stable-baselines3), the final
observations of the ended ones, and per-env outcomes for logging. The Gymnasium and SB3
classes in :mod:`fusionrank.envs.vector` and :mod:`fusionrank.envs.single` only adapt it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, replace

import numpy as np

from fusionrank.envs.browse import (
    OUTCOMES,
    PageOutcomes,
    browse,
    expected_browse,
    rank_slots,
    ranked_items,
)
from fusionrank.envs.components import EnvComponents
from fusionrank.envs.layout import RerankLayout
from fusionrank.retrieval.pool import FUSED_SCORE, fuse


@dataclass(frozen=True, eq=False)
class StepResult:
    """One batched step.

    Args:
        obs: float32, shape (B, D): next observations (ended envs already reset).
        reward: float64, shape (B,).
        terminated: bool, shape (B,): the episode ended (a session is over).
        truncated: bool, shape (B,): always False (episodes end by themselves).
        final_obs: float32, shape (B, D): the observation each env acted on last.
        outcomes: This step's clicks, purchases, revenue and pages, float64 (B,) each.
        session: Totals of the sessions that ended, float64 (B,) each (0 elsewhere).
    """

    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_obs: np.ndarray
    outcomes: PageOutcomes
    session: PageOutcomes


def to_simplex(actions: np.ndarray, scale: float) -> np.ndarray:
    """Fusion weights float64 (B, M) = softmax(scale * clip(actions, -1, 1)) per row."""
    logits = scale * np.clip(np.asarray(actions, dtype=np.float64), -1.0, 1.0)
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return weights / weights.sum(axis=1, keepdims=True)


class Core(abc.ABC):
    """B envs over prepared components.

    Args:
        components: The prepared parts.
        n: B, the number of envs.
    """

    layout: RerankLayout
    action_dim: int

    def __init__(self, components: EnvComponents, n: int) -> None:
        if n < 1:
            raise ValueError(f"batch_size must be >= 1, got {n}")
        self.components = components
        self.config = components.config
        self.n = n
        self.rows = np.zeros(n, dtype=np.int64)
        self.rng = np.random.default_rng(0)
        self.obs = np.zeros((n, 0), dtype=np.float32)

    @property
    def obs_dim(self) -> int:
        return self.layout.size

    def seed(self, seed: int | None) -> None:
        """Restart the env's random stream (None: fresh OS entropy)."""
        self.rng = np.random.default_rng(seed)

    def reset(self) -> np.ndarray:
        """Start a new episode in every env; float32 obs (B, D)."""
        self._start(np.ones(self.n, dtype=bool))
        self.obs = self.observe()
        return self.obs

    def check_actions(self, actions: np.ndarray) -> np.ndarray:
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != (self.n, self.action_dim):
            raise ValueError(
                f"actions must have shape ({self.n}, {self.action_dim}) (envs x action size), "
                f"got {actions.shape}"
            )
        return actions

    @abc.abstractmethod
    def _start(self, which: np.ndarray) -> None:
        """Start new episodes in the envs where ``which`` (bool (B,)) is True."""

    @abc.abstractmethod
    def observe(self) -> np.ndarray:
        """float32 (B, D): the current observations."""

    @abc.abstractmethod
    def step(self, actions: np.ndarray) -> StepResult:
        """Apply actions float (B, A); see the module docstring."""


class BanditCore(Core):
    """One query per episode; the action ranks it and the user browses the ranking."""

    def _start(self, which: np.ndarray) -> None:
        self.rows[which] = self.components.sample_rows(int(which.sum()), self.rng)

    @abc.abstractmethod
    def ranking(self, actions: np.ndarray) -> np.ndarray:
        """int64 (B, R): the items each env shows, best first, ``PAD`` after the last."""

    def step(self, actions: np.ndarray) -> StepResult:
        actions = self.check_actions(actions)
        final_obs = self.obs
        ranked = self.ranking(actions)
        if self.config.reward_mode == "expected":
            parts = self.components
            outcomes = expected_browse(
                parts.simulator, parts.sim_query[self.rows], ranked, self.config
            )
        else:
            outcomes = browse(self.components, self.rows, ranked, self.rng)
        done = np.ones(self.n, dtype=bool)
        self._start(done)
        self.obs = self.observe()
        return StepResult(
            obs=self.obs,
            reward=outcomes.reward(self.config.reward_weights()),
            terminated=done,
            truncated=np.zeros(self.n, dtype=bool),
            final_obs=final_obs,
            outcomes=outcomes,
            session=outcomes,
        )


class FusionCore(BanditCore):
    """Fusion weights per query (see :class:`fusionrank.envs.single.FusionEnv`)."""

    def __init__(self, components: EnvComponents, n: int) -> None:
        super().__init__(components, n)
        self.layout = RerankLayout(0, 0, components.query_features.shape[1])
        self.action_dim = len(components.pool.modality_names)
        # Fusing needs no pair features: a pool without them makes ``take`` cheaper.
        self.pool = replace(
            components.pool,
            features=np.zeros((len(components.pool), components.pool.size, 0), np.float32),
            feature_names=(FUSED_SCORE,),
        )

    def observe(self) -> np.ndarray:
        return self.components.query_features[self.rows]

    def ranking(self, actions: np.ndarray) -> np.ndarray:
        weights = to_simplex(actions, self.config.fusion_scale)
        # Users see at most max_pages * slate_size ranks of the fused top-K.
        shown = min(self.config.k, self.config.max_pages * self.config.slate_size)
        return fuse(self.pool.take(self.rows), weights, shown).item_index


class RerankCore(BanditCore):
    """Scores for the default-fused top-K (see :class:`fusionrank.envs.single.RerankEnv`)."""

    def __init__(self, components: EnvComponents, n: int) -> None:
        super().__init__(components, n)
        cands = components.candidates
        self.layout = RerankLayout(cands.k, len(cands.feature_names), self.query_dim)
        self.action_dim = cands.k
        self.table = self.layout.join(cands.features, cands.mask, components.query_features)

    @property
    def query_dim(self) -> int:
        return int(self.components.query_features.shape[1])

    def observe(self) -> np.ndarray:
        return self.table[self.rows]

    def ranking(self, actions: np.ndarray) -> np.ndarray:
        cands, rows = self.components.candidates, self.rows
        mask = cands.mask[rows]
        return ranked_items(cands.item_index[rows], mask, rank_slots(actions, mask))


def zero_outcomes(n: int) -> PageOutcomes:
    return PageOutcomes(*np.zeros((len(OUTCOMES), n)))
