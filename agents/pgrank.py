"""PG-Rank: a Plackett-Luce ranking policy trained by policy gradient in the fitted
simulator, with exact (expected) rewards.

Each step::

    rows  ~ logged traffic                                   B queries
    s     = CandidateScorer(features, mask, query)           (B, K) scores
    pi_j  ~ PL(s), j = 1..S                                  Gumbel-top-k, (S, B, K)
    R_j   = mean_e R_e(pi_j) - k * std_e R_e(pi_j)           exact, :class:`SimulatorValue`
    A_j   = (R_j - mean_{i != j} R_i) / sd(A)                leave-one-out baseline
    loss  = - mean_j A_j * log PL(pi_j[:d] | s)              :mod:`.plackett_luce`

The deterministic policy ranks by ``s`` (the PL mode). Every ``eval_every`` steps it is
valued on every query (traffic-weighted) in the simulator; with ``select = "best"`` the
best of these evaluations is kept: the choice reads the fitted simulator only.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from fusionrank import progress
from fusionrank.agents import plackett_luce as pl
from fusionrank.agents.config import NetworkConfig, PGRankConfig
from fusionrank.agents.networks import CandidateScorer
from fusionrank.envs.value import SimulatorValue
from fusionrank.types import PAD

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class RankingProblem:
    """Every training query's candidates, prepared once.

    Args:
        features: float32, shape (Q, K, F): candidate features.
        mask: bool, shape (Q, K).
        query_features: float32, shape (Q, Dq).
        items: int64, shape (Q, K): catalog item indices, ``PAD`` where masked.
        traffic: float64, shape (Q,): share of sessions that start with each query.
        feature_names: F names.
    """

    features: np.ndarray
    mask: np.ndarray
    query_features: np.ndarray
    items: np.ndarray
    traffic: np.ndarray
    feature_names: tuple[str, ...]

    def __post_init__(self) -> None:
        q, k, f = self.features.shape
        if self.mask.shape != (q, k) or self.items.shape != (q, k):
            raise ValueError(f"mask {self.mask.shape} and items {self.items.shape} != {(q, k)}")
        if len(self.feature_names) != f or self.traffic.shape != (q,):
            raise ValueError("feature_names must name F features and traffic be (Q,)")

    @property
    def n_queries(self) -> int:
        return int(self.features.shape[0])

    def with_feature(self, values: np.ndarray, name: str) -> RankingProblem:
        """The problem with one more candidate feature (float (Q, K)) appended."""
        column = np.where(self.mask, values, 0.0).astype(np.float32)[..., None]
        return RankingProblem(
            np.concatenate([self.features, column], axis=2),
            self.mask,
            self.query_features,
            self.items,
            self.traffic,
            (*self.feature_names, name),
        )


@dataclass
class PGRankResult:
    """A finished training run.

    Args:
        network: The kept scorer (eval mode).
        seconds: Wall time.
        history: Simulator evaluations: ``step``, ``value`` (mean), ``pessimistic``.
        start_value: The initial policy's simulator value.
    """

    network: CandidateScorer
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    start_value: float = float("nan")
    kept_value: float = float("nan")


def ranked_items(items: np.ndarray, mask: np.ndarray, order: np.ndarray, depth: int):
    """int64 (..., depth): the items of slot orders (..., K), ``PAD`` at masked slots."""
    slots = order[..., :depth]
    expanded = np.broadcast_to(items, (*order.shape[:-1], items.shape[-1]))
    real = np.take_along_axis(np.broadcast_to(mask, expanded.shape), slots, axis=-1)
    return np.where(real, np.take_along_axis(expanded, slots, axis=-1), PAD)


def deterministic_value(
    network: CandidateScorer,
    problem: RankingProblem,
    value: SimulatorValue,
    depth: int,
    pessimism: float,
) -> tuple[float, float]:
    """Traffic-weighted ``(mean, pessimistic)`` simulator value of ranking by the scores."""
    with torch.no_grad():
        scores = network(
            torch.from_numpy(problem.features),
            torch.from_numpy(problem.mask),
            torch.from_numpy(problem.query_features),
        )
    order = torch.argsort(
        pl.masked_scores(scores, torch.from_numpy(problem.mask)),
        dim=1,
        descending=True,
        stable=True,
    )
    ranked = ranked_items(problem.items, problem.mask, order.numpy(), depth)
    rows = np.arange(problem.n_queries, dtype=np.int64)
    members = value.values(rows, ranked)
    share = problem.traffic / problem.traffic.sum()
    mean = float(share @ members.mean(axis=0))
    return mean, float(share @ value(rows, ranked, pessimism)) if pessimism else mean


def build_scorer(
    problem: RankingProblem, network: NetworkConfig, start_feature: int, init_scale: float
) -> CandidateScorer:
    """A scorer whose initial scores are ``init_scale`` times the standardised
    ``start_feature`` (the residual head starts at zero), standardisers fitted."""
    scorer = CandidateScorer(
        len(problem.feature_names),
        problem.query_features.shape[1],
        network.hidden,
        network.attention_heads,
        prior_feature=start_feature,
        prior_weight=init_scale,
    )
    scorer.item_norm.fit(problem.features[problem.mask])
    scorer.query_norm.fit(problem.query_features)
    last = scorer.head[-1]
    assert isinstance(last, torch.nn.Linear)
    with torch.no_grad():
        last.weight.zero_()
    return scorer


def _step(
    scorer: CandidateScorer,
    optimizer: torch.optim.Optimizer,
    problem: RankingProblem,
    value: SimulatorValue,
    rows: np.ndarray,
    config: PGRankConfig,
    depth: int,
    generator: torch.Generator,
) -> float:
    """One policy-gradient step on the queries ``rows``; returns the mean sampled reward."""
    mask = torch.from_numpy(problem.mask[rows])
    scores = scorer(
        torch.from_numpy(problem.features[rows]),
        mask,
        torch.from_numpy(problem.query_features[rows]),
    )
    safe = pl.masked_scores(scores, mask)
    order = pl.sample_rankings(safe, config.samples, generator)
    ranked = ranked_items(problem.items[rows], problem.mask[rows], order.numpy(), depth)
    n_samples, batch = order.shape[:2]
    tiled = np.tile(rows, n_samples)
    values = value(tiled, ranked.reshape(n_samples * batch, depth), config.pessimism)
    reward = torch.from_numpy(values.reshape(n_samples, batch)).float()
    baseline = (reward.sum(0, keepdim=True) - reward) / (n_samples - 1)
    advantage = reward - baseline
    advantage = advantage / advantage.std().clamp(min=1e-8)
    loss = -(advantage * pl.log_prob(safe, order, mask, depth)).mean()
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(scorer.parameters(), config.max_grad_norm)
    optimizer.step()
    return float(reward.mean())


def train_pgrank(
    problem: RankingProblem,
    value: SimulatorValue,
    config: PGRankConfig,
    network: NetworkConfig,
    seed: int,
    start_feature: int,
) -> PGRankResult:
    """Train the Plackett-Luce policy (module docstring).

    Args:
        problem: The training queries.
        value: The simulator (or ensemble) that values rankings.
        config: PG-Rank settings.
        network: Scorer sizes (``hidden``, ``attention_heads``).
        seed: Seeds the network's init, the traffic draws and the rankings.
        start_feature: Column whose order the policy starts from.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    depth = config.depth or value.config.slate_size * value.config.max_pages
    scorer = build_scorer(problem, network, start_feature, config.init_scale)
    optimizer = torch.optim.Adam(scorer.parameters(), lr=config.learning_rate)
    share = problem.traffic / problem.traffic.sum()
    started = time.perf_counter()
    start_value, start_pess = deterministic_value(scorer, problem, value, depth, config.pessimism)
    history = [{"step": 0.0, "value": start_value, "pessimistic": start_pess}]
    kept, kept_score, kept_value = copy.deepcopy(scorer.state_dict()), start_pess, start_value
    with progress.task("train pg-rerank", total=config.iterations) as advance:
        for step in range(1, config.iterations + 1):
            rows = rng.choice(problem.n_queries, size=config.queries_per_step, p=share)
            sampled = _step(scorer, optimizer, problem, value, rows, config, depth, generator)
            advance(1)
            if step % config.eval_every and step != config.iterations:
                continue
            mean, pess = deterministic_value(scorer, problem, value, depth, config.pessimism)
            history.append(
                {"step": float(step), "value": mean, "pessimistic": pess, "sampled": sampled}
            )
            logger.info(
                "pg-rank step %d: simulator value %.4f (pessimistic %.4f)", step, mean, pess
            )
            if config.select == "last" or pess > kept_score:
                kept, kept_score, kept_value = copy.deepcopy(scorer.state_dict()), pess, mean
    scorer.load_state_dict(kept)
    seconds = time.perf_counter() - started
    return PGRankResult(scorer.eval(), seconds, history, start_value, kept_value)
