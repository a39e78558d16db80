"""Policy networks: a permutation-equivariant candidate scorer and an MLP for fusion.

:class:`CandidateScorer` gives each candidate a score from its own features and a
context pooled over all (unmasked) candidates plus the query::

    x_i  = (features_i - mu) / sigma                        standardised, (B, K, F)
    h_i  = phi(x_i)                                         shared MLP, (B, K, H)
    [h_i = h_i + Attn(h, h, h; key mask)]                   optional masked attention
    c    = rho([mean_i h_i, max_i h_i, psi(q)])             masked pools, (B, H)
    s_i  = w^T relu(W [h_i, c] + b) + v^T x_i               one score per candidate

Permuting the candidates permutes the scores; masked slots never enter ``c`` (the pools
and the attention ignore them), so padding changes nothing. The critic reads ``c``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fusionrank.envs.layout import RerankLayout

logger = logging.getLogger(__name__)

MASKED_SCORE = float("-inf")
"""What :meth:`CandidateScorer.forward` gives masked slots."""


def _mlp(sizes: list[int], final_activation: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if final_activation or i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Standardizer(nn.Module):
    """``(x - mean) / std`` with fixed statistics stored as buffers (exported with it).

    Args:
        dim: Feature count D.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def fit(self, values: np.ndarray) -> None:
        """Set the statistics from samples, float (N, D); a constant column keeps std 1."""
        values = np.asarray(values, dtype=np.float64).reshape(-1, self.mean.shape[0])
        if not len(values):
            return
        std = values.std(axis=0)
        self.mean.copy_(torch.as_tensor(values.mean(axis=0), dtype=torch.float32))
        self.std.copy_(torch.as_tensor(np.where(std > 1e-6, std, 1.0), dtype=torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def saved_scorer(path: Path, meta: Mapping[str, Any], extra_features: int = 0) -> CandidateScorer:
    """The :class:`CandidateScorer` a policy saved to ``path``, sized from its
    ``policy.json`` (``meta``: feature names, ``query_feature_dim``, ``config.hidden`` and
    ``config.attention_heads``) plus ``extra_features`` columns it also reads."""
    config = meta["config"]
    net = CandidateScorer(
        len(meta["feature_names"]) + extra_features,
        meta["query_feature_dim"],
        int(config["hidden"]),
        int(config["attention_heads"]),
    )
    net.load_state_dict(torch.load(path, weights_only=True))
    return net


class CandidateScorer(nn.Module):
    """The permutation-equivariant scorer (see the module docstring).

    Args:
        n_features: F.
        query_dim: Dq (0: no query input).
        hidden: H.
        attention_heads: 0 for pooling only; else heads of one masked attention layer.
        prior_feature: Column whose standardised value initialises the linear path
            (``v = prior_weight * e_prior``), or None for a plain init.
        prior_weight: See ``prior_feature``.
    """

    def __init__(
        self,
        n_features: int,
        query_dim: int,
        hidden: int = 64,
        attention_heads: int = 0,
        prior_feature: int | None = None,
        prior_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.n_features, self.query_dim, self.hidden = n_features, query_dim, hidden
        self.item_norm = Standardizer(n_features)
        self.query_norm = Standardizer(max(query_dim, 1))
        self.item_encoder = _mlp([n_features, hidden, hidden])
        self.attention = (
            nn.MultiheadAttention(hidden, attention_heads, batch_first=True)
            if attention_heads
            else None
        )
        self.query_encoder = _mlp([max(query_dim, 1), hidden])
        self.context = _mlp([3 * hidden, hidden])
        self.head = _mlp([2 * hidden, hidden, 1], final_activation=False)
        # A linear path from the features, so a linear ranker (e.g. by the fused score)
        # is easy to reach.
        self.skip = nn.Linear(n_features, 1, bias=False)
        if prior_feature is not None:
            # Start at the first stage's order: s_i ~ prior_weight * standardised feature
            # (e.g. the fused score), so exploration begins around the default ranking.
            with torch.no_grad():
                self.skip.weight.zero_()
                self.skip.weight[0, prior_feature] = prior_weight
                last = self.head[-1]
                assert isinstance(last, nn.Linear)
                last.weight.mul_(0.1)
                last.bias.zero_()

    def encode(
        self, features: torch.Tensor, mask: torch.Tensor, query_features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw scores and context.

        Args:
            features: float32 (B, K, F).
            mask: bool (B, K).
            query_features: float32 (B, Dq).

        Returns:
            ``(scores float32 (B, K), context float32 (B, H))``; masked scores are 0.
        """
        mask = mask.bool()
        weight = mask.unsqueeze(-1).float()
        x = self.item_norm(features)
        h = self.item_encoder(x) * weight
        if self.attention is not None:
            # A row with no candidates would give NaN; let it attend to slot 0, then zero it.
            keys_off = ~mask
            keys_off[:, 0] = keys_off[:, 0] & mask.any(dim=1)
            attended, _ = self.attention(h, h, h, key_padding_mask=keys_off, need_weights=False)
            h = (h + attended) * weight
        count = weight.sum(dim=1).clamp(min=1.0)
        mean = h.sum(dim=1) / count
        peak = h.masked_fill(~mask.unsqueeze(-1), -1e9).amax(dim=1)
        peak = torch.where(mask.any(dim=1, keepdim=True), peak, torch.zeros_like(peak))
        if self.query_dim:
            query = self.query_encoder(self.query_norm(query_features))
        else:
            query = self.query_encoder(torch.zeros_like(mean[:, :1]))
        context = self.context(torch.cat([mean, peak, query], dim=1))
        pair = torch.cat([h, context.unsqueeze(1).expand(-1, h.shape[1], -1)], dim=2)
        scores = (self.head(pair) + self.skip(x)).squeeze(-1) * mask.float()
        return scores, context

    def forward(
        self, features: torch.Tensor, mask: torch.Tensor, query_features: torch.Tensor
    ) -> torch.Tensor:
        """float32 (B, K) scores; ``-inf`` at masked slots (the export contract)."""
        scores, _ = self.encode(features, mask, query_features)
        return scores.masked_fill(~mask.bool(), MASKED_SCORE)


class FusionNet(nn.Module):
    """An MLP from query features to M fusion-weight logits, plus a value head.

    Args:
        query_dim: Dq.
        n_modalities: M.
        hidden: Hidden layer widths.
    """

    def __init__(self, query_dim: int, n_modalities: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.query_norm = Standardizer(query_dim)
        self.body = _mlp([query_dim, *hidden])
        width = hidden[-1] if hidden else query_dim
        self.logits = nn.Linear(width, n_modalities)
        self.value = nn.Linear(width, 1)

    def latent(self, query_features: torch.Tensor) -> torch.Tensor:
        """float32 (B, H) from query features float32 (B, Dq)."""
        return self.body(self.query_norm(query_features))

    def forward(self, query_features: torch.Tensor) -> torch.Tensor:
        """float32 (B, M) action means (the env maps them onto the simplex)."""
        return self.logits(self.latent(query_features))


class RerankLatent(nn.Module):
    """SB3 ``mlp_extractor`` for the re-rank env: actor latent = ``tanh`` of the K
    candidate scores (the Gaussian's mean, with an identity action net; ``tanh`` keeps it
    inside the env's [-1, 1] action box without changing the order), critic latent = the
    context.

    Args:
        layout: The flat observation's layout.
        hidden: H.
        attention_heads: See :class:`CandidateScorer`.
        prior_feature: See :class:`CandidateScorer`.
    """

    def __init__(
        self,
        layout: RerankLayout,
        hidden: int,
        attention_heads: int,
        prior_feature: int | None = None,
    ) -> None:
        super().__init__()
        self.layout = layout
        self.scorer = CandidateScorer(
            layout.n_features, layout.query_dim, hidden, attention_heads, prior_feature
        )
        self.latent_dim_pi = layout.k
        self.latent_dim_vf = hidden

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(tanh scores float32 (B, K), context float32 (B, H))`` of flat obs (B, D)."""
        scores, context = self.scorer.encode(*self.layout.split(obs))
        return torch.tanh(scores), context

    def forward_actor(self, obs: torch.Tensor) -> torch.Tensor:
        return self.forward(obs)[0]

    def forward_critic(self, obs: torch.Tensor) -> torch.Tensor:
        return self.forward(obs)[1]


class FusionLatent(nn.Module):
    """SB3 ``mlp_extractor`` for the fusion env: actor latent = M logits, critic latent =
    the shared hidden layer.

    Args:
        query_dim: Dq (the whole observation).
        n_modalities: M.
        hidden: Hidden widths.
    """

    def __init__(self, query_dim: int, n_modalities: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.net = FusionNet(query_dim, n_modalities, hidden)
        self.latent_dim_pi = n_modalities
        self.latent_dim_vf = hidden[-1] if hidden else query_dim

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latent = self.net.latent(obs)
        return self.net.logits(latent), latent

    def forward_actor(self, obs: torch.Tensor) -> torch.Tensor:
        return self.forward(obs)[0]

    def forward_critic(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net.latent(obs)
