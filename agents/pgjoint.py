"""Per-query fusion and re-ranking in one policy, trained jointly by policy gradient in the
fitted simulator (the joint env: fusion weights and re-rank scores in one episode).

The policy picks a query's fusion weights, the retriever fuses its pool with them into
the top-K candidates, and a Plackett-Luce ranking of those is shown. Each step::

    z_j   ~ N(mu(q), sigma^2 I),  w_j = softmax(z_j)       fusion logits, (S, B, M)
    C_j   = fuse(pool_q, w_j, K)                           candidates, features, items
    pi_j  ~ PL(s(C_j, q))                                  Gumbel-top-k
    R_j   = simulator value of pi_j (exact)
    loss  = - mean_j A_j (log N(z_j; mu, sigma) + log PL(pi_j))

with ``A_j`` the leave-one-out advantage of :mod:`fusionrank.agents.pgrank`. The
deterministic policy uses ``w = softmax(mu(q))`` and ranks by ``s``. ``mu`` starts at the
log of the retriever's default weights and ``s`` at the fused score, so training starts
from the default order.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from fusionrank import progress
from fusionrank.agents import plackett_luce as pl
from fusionrank.agents.config import NetworkConfig, PGRankConfig
from fusionrank.agents.networks import CandidateScorer, FusionNet, saved_scorer
from fusionrank.agents.pgrank import PGRankResult, ranked_items
from fusionrank.agents.policy import Policy, policy_args
from fusionrank.envs.value import SimulatorValue
from fusionrank.retrieval.pool import FUSED_SCORE, CandidatePool, fuse
from fusionrank.types import CandidateBatch, Query

logger = logging.getLogger(__name__)

SCORER_FILE = "scorer.pt"
FUSION_FILE = "fusion.pt"
FUSION_STD = 0.5
"""Standard deviation of the fusion logits' exploration."""


class JointRerankPolicy(Policy):
    """Per-query fusion weights ``softmax(mu(q))`` and re-rank scores ``s(C, q)``.

    Args:
        fusion: The network of the fusion logits ``mu``.
        scorer: The candidate scorer.
        **kwargs: :class:`Policy` arguments.
    """

    kind: ClassVar[str] = "pg-joint"

    def __init__(self, fusion: FusionNet, scorer: CandidateScorer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fusion, self.network = fusion.eval(), scorer.eval()
        self.config.update(
            env="joint",
            hidden=scorer.hidden,
            attention_heads=0 if scorer.attention is None else int(scorer.attention.num_heads),
            fusion_hidden=[m.out_features for m in fusion.body if isinstance(m, torch.nn.Linear)],
        )

    def fusion_weights(
        self, queries: Sequence[Query], query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 (B, M): ``softmax(mu(q))``."""
        qf = self.require_query_features(query_features)
        with torch.no_grad():
            logits = self.fusion(torch.from_numpy(qf)).double()
        return torch.softmax(logits, dim=1).numpy()

    def scores(
        self, candidates: CandidateBatch, query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 (B, K): the scorer's output; ``-inf`` at masked slots."""
        qf = self.require_query_features(query_features)
        self.check_candidates(candidates, qf)
        with torch.no_grad():
            out = self.network(
                torch.from_numpy(candidates.features),
                torch.from_numpy(candidates.mask),
                torch.from_numpy(qf),
            )
        return out.double().numpy()

    def _save_state(self, folder: Path) -> None:
        torch.save(self.network.state_dict(), folder / SCORER_FILE)
        torch.save(self.fusion.state_dict(), folder / FUSION_FILE)

    @classmethod
    def _from_saved(cls, folder: Path, meta: dict[str, Any]) -> Policy:
        config = meta["config"]
        scorer = saved_scorer(folder / SCORER_FILE, meta)
        fusion = FusionNet(
            meta["query_feature_dim"],
            len(meta["modality_names"]),
            tuple(int(h) for h in config["fusion_hidden"]),
        )
        fusion.load_state_dict(torch.load(folder / FUSION_FILE, weights_only=True))
        return cls(fusion, scorer, **policy_args(meta))


def _fusion_net(query_features: np.ndarray, default: np.ndarray, hidden: tuple[int, ...]):
    """A fusion network whose initial logits are ``log(default weights)`` for every query."""
    net = FusionNet(query_features.shape[1], default.shape[0], hidden)
    net.query_norm.fit(query_features)
    with torch.no_grad():
        net.logits.weight.zero_()
        net.logits.bias.copy_(torch.as_tensor(np.log(np.maximum(default, 1e-6))))
    return net


def _candidates(pool: CandidatePool, rows: np.ndarray, weights: np.ndarray, k: int):
    batch = fuse(pool.take(rows), weights.astype(np.float64), k)
    return batch.features, batch.mask, batch.item_index


class JointTrainer:
    """The joint policy gradient of the module docstring over one simulator value.

    Args:
        pool: The candidate pool of every query row (Q rows).
        query_features: float32, shape (Q, Dq).
        traffic: float64, shape (Q,).
        value: The simulator value of rankings (rows are pool rows).
        default_weights: float, shape (M,): the retriever's default weights.
        config: PG-Rank settings (iterations, samples, learning rate, ...).
        network: Scorer and fusion sizes.
        k: Candidates fused per query.
        seed: Seeds the networks' initial weights (``train`` seeds the rest).
    """

    def __init__(
        self,
        pool: CandidatePool,
        query_features: np.ndarray,
        traffic: np.ndarray,
        value: SimulatorValue,
        default_weights: np.ndarray,
        config: PGRankConfig,
        network: NetworkConfig,
        k: int,
        seed: int = 0,
    ) -> None:
        torch.manual_seed(seed)  # the networks' initial weights: seeded, whatever ran before
        self.pool, self.qf, self.value, self.config, self.k = pool, query_features, value, config, k
        self.share = traffic / traffic.sum()
        self.depth = config.depth or value.config.slate_size * value.config.max_pages
        names = pool.feature_names
        features, mask, _ = _candidates(
            pool,
            np.arange(len(pool)),
            np.broadcast_to(default_weights, (len(pool), len(default_weights))),
            k,
        )
        self.scorer = CandidateScorer(
            len(names), query_features.shape[1], network.hidden, network.attention_heads,
            prior_feature=names.index(FUSED_SCORE), prior_weight=config.init_scale,
        )  # fmt: skip
        self.scorer.item_norm.fit(features[mask])
        self.scorer.query_norm.fit(query_features)
        last = self.scorer.head[-1]
        assert isinstance(last, torch.nn.Linear)
        with torch.no_grad():
            last.weight.zero_()
        self.fusion = _fusion_net(query_features, default_weights, tuple(network.fusion_hidden))
        params = [*self.scorer.parameters(), *self.fusion.parameters()]
        self.optimizer = torch.optim.Adam(params, lr=config.learning_rate)

    def evaluate(self) -> float:
        """Traffic-weighted simulator value of the deterministic policy."""
        rows = np.arange(len(self.pool))
        with torch.no_grad():
            weights = torch.softmax(self.fusion(torch.from_numpy(self.qf)), 1).numpy()
            features, mask, items = _candidates(self.pool, rows, weights, self.k)
            scores = self.scorer(
                torch.from_numpy(features), torch.from_numpy(mask), torch.from_numpy(self.qf)
            )
        order = torch.argsort(
            pl.masked_scores(scores, torch.from_numpy(mask)), dim=1, descending=True, stable=True
        )
        ranked = ranked_items(items, mask, order.numpy(), self.depth)
        return float(self.share @ self.value(rows, ranked))

    def step(self, rows: np.ndarray, generator: torch.Generator) -> float:
        """One joint policy-gradient step on the query rows; returns the mean reward."""
        s, b = self.config.samples, len(rows)
        qf = torch.from_numpy(self.qf[rows])
        mu = self.fusion(qf)
        noise = torch.randn((s, *mu.shape), generator=generator)
        z = mu.detach().unsqueeze(0) + FUSION_STD * noise
        log_fusion = (-0.5 * ((z - mu.unsqueeze(0)) / FUSION_STD) ** 2).sum(-1) - mu.shape[
            1
        ] * math.log(FUSION_STD * math.sqrt(2 * math.pi))
        weights = torch.softmax(z, dim=-1).reshape(s * b, -1).numpy()
        tiled = np.tile(rows, s)
        features, mask, items = _candidates(self.pool, tiled, weights, self.k)
        mask_t = torch.from_numpy(mask)
        scores = self.scorer(torch.from_numpy(features), mask_t, qf.repeat(s, 1))
        safe = pl.masked_scores(scores, mask_t)
        order = pl.sample_rankings(safe, 1, generator)
        ranked = ranked_items(items, mask, order[0].numpy(), self.depth)
        reward = self.value(tiled, ranked, self.config.pessimism).reshape(s, b)
        reward_t = torch.from_numpy(reward).float()
        advantage = reward_t - (reward_t.sum(0, keepdim=True) - reward_t) / (s - 1)
        advantage = advantage / advantage.std().clamp(min=1e-8)
        log_rank = pl.log_prob(safe, order, mask_t, self.depth)[0].reshape(s, b)
        loss = -(advantage * (log_fusion + log_rank)).mean()
        self.optimizer.zero_grad()
        loss.backward()
        params = [*self.scorer.parameters(), *self.fusion.parameters()]
        torch.nn.utils.clip_grad_norm_(params, self.config.max_grad_norm)
        self.optimizer.step()
        return float(reward.mean())

    def train(self, seed: int) -> PGRankResult:
        """Run ``config.iterations`` steps; keep the best evaluation (``select``)."""
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        rng = np.random.default_rng(seed)
        started = time.perf_counter()
        start = self.evaluate()
        history = [{"step": 0.0, "value": start}]
        kept = (copy.deepcopy(self.scorer.state_dict()), copy.deepcopy(self.fusion.state_dict()))
        kept_value = start
        with progress.task("train pg-joint", total=self.config.iterations) as advance:
            for step in range(1, self.config.iterations + 1):
                rows = rng.choice(len(self.pool), size=self.config.queries_per_step, p=self.share)
                sampled = self.step(rows, generator)
                advance(1)
                if step % self.config.eval_every and step != self.config.iterations:
                    continue
                value = self.evaluate()
                history.append({"step": float(step), "value": value, "sampled": sampled})
                if self.config.select == "last" or value > kept_value:
                    kept = (
                        copy.deepcopy(self.scorer.state_dict()),
                        copy.deepcopy(self.fusion.state_dict()),
                    )
                    kept_value = value
        self.scorer.load_state_dict(kept[0])
        self.fusion.load_state_dict(kept[1])
        seconds = time.perf_counter() - started
        return PGRankResult(self.scorer.eval(), seconds, history, start, kept_value)
