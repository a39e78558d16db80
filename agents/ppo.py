"""PPO (stable-baselines3) with set-equivariant actor-critics, and the trained agents as
:class:`~fusionrank.agents.policy.Policy` objects.

* :class:`RerankActorCritic`: the Gaussian's mean over the K score actions is
  :class:`~fusionrank.agents.networks.CandidateScorer`'s output (an identity action net,
  so the actor stays permutation-equivariant); the critic reads the pooled context.
* :class:`FusionActorCritic`: an MLP from query features to M fusion logits.
* :class:`PPORerankPolicy` / :class:`PPOFusionPolicy`: the deterministic (mean) actions of
  a trained model, saved as ``policy.json`` + ``scorer.pt``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

from fusionrank.agents.networks import (
    CandidateScorer,
    FusionLatent,
    FusionNet,
    RerankLatent,
    saved_scorer,
)
from fusionrank.agents.policy import Policy, policy_args
from fusionrank.envs.core import to_simplex
from fusionrank.envs.layout import RerankLayout
from fusionrank.types import CandidateBatch, Query

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "scorer.pt"


class _IdentityActionActorCritic(ActorCriticPolicy):
    """An actor-critic whose latent actor output already is the action mean."""

    def _build(self, lr_schedule: Callable[[float], float]) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()
        # Rebuild the optimizer without the dropped linear action net.
        optimizer_class: Any = self.optimizer_class
        self.optimizer = optimizer_class(
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )


class RerankActorCritic(_IdentityActionActorCritic):
    """Actor-critic for the re-rank env (flat Box observation, Box(K) score actions).

    Args:
        observation_space, action_space, lr_schedule: As for SB3's ActorCriticPolicy.
        layout: ``(k, n_features, query_dim)`` of the flat observation.
        hidden: Width H of :class:`CandidateScorer`.
        attention_heads: 0 for pooling only.
        prior_feature: Feature column the scores start from (the fused score), or None.
        **kwargs: SB3 ActorCriticPolicy arguments (``log_std_init``, ...).
    """

    def __init__(
        self,
        observation_space: Any,
        action_space: Any,
        lr_schedule: Callable[[float], float],
        layout: tuple[int, int, int] = (1, 1, 0),
        hidden: int = 64,
        attention_heads: int = 0,
        prior_feature: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.layout = RerankLayout(*layout)
        self.hidden = hidden
        self.attention_heads = attention_heads
        self.prior_feature = prior_feature
        kwargs.setdefault("ortho_init", False)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = RerankLatent(  # type: ignore[assignment]
            self.layout, self.hidden, self.attention_heads, self.prior_feature
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(
            layout=(self.layout.k, self.layout.n_features, self.layout.query_dim),
            hidden=self.hidden,
            attention_heads=self.attention_heads,
            prior_feature=self.prior_feature,
        )
        return data

    @property
    def scorer(self) -> CandidateScorer:
        return self.mlp_extractor.scorer  # type: ignore[return-value]


class FusionActorCritic(_IdentityActionActorCritic):
    """Actor-critic for the fusion env (Box(Dq) observation, Box(M) actions).

    Args:
        observation_space, action_space, lr_schedule: As for SB3's ActorCriticPolicy.
        hidden: Hidden widths of the MLP.
        **kwargs: SB3 ActorCriticPolicy arguments.
    """

    def __init__(
        self,
        observation_space: Any,
        action_space: Any,
        lr_schedule: Callable[[float], float],
        hidden: Sequence[int] = (64, 64),
        **kwargs: Any,
    ) -> None:
        self.hidden_sizes = tuple(int(h) for h in hidden)
        kwargs.setdefault("ortho_init", False)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _build_mlp_extractor(self) -> None:
        self.mlp_extractor = FusionLatent(  # type: ignore[assignment]
            int(np.prod(self.observation_space.shape)),  # type: ignore[arg-type]
            int(np.prod(self.action_space.shape)),  # type: ignore[arg-type]
            self.hidden_sizes,
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(hidden=self.hidden_sizes)
        return data

    @property
    def net(self) -> FusionNet:
        return self.mlp_extractor.net  # type: ignore[return-value]


class PPORerankPolicy(Policy):
    """A trained re-rank agent: scores = the actor's mean action (no sampling).

    Args:
        scorer: The trained network.
        **kwargs: :class:`Policy` arguments; ``config`` must hold ``hidden`` and
            ``attention_heads`` (to rebuild the network on load).
    """

    kind = "ppo-rerank"

    def __init__(self, scorer: CandidateScorer, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.network = scorer.eval()
        self.config.setdefault("env", "rerank")
        self.config.update(hidden=scorer.hidden, attention_heads=_heads(scorer))

    def scores(
        self, candidates: CandidateBatch, query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 (B, K): the actor's mean scores; ``-inf`` at masked slots.

        A session policy (``config["context_dim"]`` > 0) given the retriever's query
        features alone scores them as a session's first page: context zeros appended.
        """
        qf = self.require_query_features(query_features)
        context = int(self.config.get("context_dim", 0))
        if context and qf.shape[1:] == (self.query_feature_dim - context,):
            qf = np.concatenate([qf, np.zeros((len(qf), context), dtype=np.float32)], axis=1)
        self.check_candidates(candidates, qf)
        with torch.no_grad():
            out = self.network(
                torch.from_numpy(candidates.features),
                torch.from_numpy(candidates.mask),
                torch.from_numpy(qf),
            )
        return out.double().numpy()

    def scorer(self) -> torch.nn.Module:
        return self.network

    def _save_state(self, folder: Path) -> None:
        torch.save(self.network.state_dict(), folder / WEIGHTS_FILE)

    @classmethod
    def _from_saved(cls, folder: Path, meta: dict[str, Any]) -> Policy:
        return cls(saved_scorer(folder / WEIGHTS_FILE, meta), **policy_args(meta))


class PPOFusionPolicy(Policy):
    """A trained fusion agent: per-query fusion weights from the actor's mean action,
    ``w = softmax(fusion_scale * clip(a, -1, 1))`` (the fusion env's map); candidates
    keep the fused order.

    Args:
        net: The trained network.
        fusion_scale: The env's ``envs.fusion_scale``.
        **kwargs: :class:`Policy` arguments.
    """

    kind = "ppo-fusion"

    def __init__(self, net: FusionNet, fusion_scale: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.net = net.eval()
        self.config.setdefault("env", "fusion")
        self.config.update(
            hidden=[m.out_features for m in net.body if isinstance(m, nn.Linear)],
            fusion_scale=float(fusion_scale),
        )

    def fusion_weights(
        self, queries: Sequence[Query], query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 (B, M) on the simplex."""
        qf = self.require_query_features(query_features)
        if qf.shape != (len(queries), self.query_feature_dim):
            raise ValueError(
                f"policy {self.name!r}: query_features must have shape "
                f"{(len(queries), self.query_feature_dim)}, got {qf.shape}"
            )
        with torch.no_grad():
            actions = self.net(torch.from_numpy(qf)).double().numpy()
        return to_simplex(actions, self.config["fusion_scale"])

    def scores(
        self, candidates: CandidateBatch, query_features: np.ndarray | None = None
    ) -> np.ndarray:
        """float64 (B, K): ``-slot`` (the fused order); ``-inf`` at masked slots."""
        self.check_candidates(candidates, None)
        order = -np.arange(candidates.k, dtype=np.float64)
        return np.where(candidates.mask, order[None, :], -np.inf)

    def _save_state(self, folder: Path) -> None:
        torch.save(self.net.state_dict(), folder / WEIGHTS_FILE)

    @classmethod
    def _from_saved(cls, folder: Path, meta: dict[str, Any]) -> Policy:
        config = meta["config"]
        net = FusionNet(
            meta["query_feature_dim"],
            len(meta["modality_names"]),
            tuple(int(h) for h in config["hidden"]),
        )
        net.load_state_dict(torch.load(folder / WEIGHTS_FILE, weights_only=True))
        return cls(net, float(config["fusion_scale"]), **policy_args(meta))


def _heads(scorer: CandidateScorer) -> int:
    return 0 if scorer.attention is None else int(scorer.attention.num_heads)


def expect_kind(policy: Policy, kind: str, source: str | Path) -> None:
    """Raise a ValueError if a loaded policy is not of ``kind`` (e.g. a fusion policy
    passed where a re-rank one is needed)."""
    if policy.kind != kind:
        raise ValueError(
            f"{source}: holds a {policy.kind!r} policy ({policy.name}); this needs a "
            f"{kind!r} policy: pass the folder of one, or train it with "
            f"`fusionrank train --env {kind.removeprefix('ppo-')}`"
        )


# The PG-Rank policies subclass PPORerankPolicy; importing them here registers their kinds
# for load_policy, which imports this module on demand.
from fusionrank.agents import pgjoint as _pgjoint  # noqa: E402, F401
from fusionrank.agents import rl_policies as _rl_policies  # noqa: E402, F401
