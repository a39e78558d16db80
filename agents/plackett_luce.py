"""Plackett-Luce rankings over candidate scores: sampling and log-likelihood (PG-Rank).

A Plackett-Luce policy with scores ``s`` (B, K) ranks by drawing, position after
position, a candidate not yet placed with probability ``exp(s_i) / sum_{j left} exp(s_j)``.
Adding i.i.d. Gumbel noise to the scores and sorting draws exactly that ranking (the
Gumbel-top-k trick), and the log-probability of its first ``d`` positions is

    log P(pi_1..pi_d) = sum_{i <= d} [ s_{pi_i} - log sum_{j >= i} exp(s_{pi_j}) ],

so ``grad log P`` is exact, unlike a Gaussian on the scores whose sorted order has no
likelihood (Singh and Joachims, 2019, "Policy Learning for Fairness in Ranking").
Masked (padding) slots are never drawn: give them :data:`MASKED` instead of ``-inf`` so
gradients stay finite.
"""

from __future__ import annotations

import torch

MASKED = -1.0e4
"""The score masked slots get before sampling: exp(MASKED - s) is 0 in float32."""


def masked_scores(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """float32 (B, K): ``scores`` where ``mask`` is True, :data:`MASKED` elsewhere."""
    return scores.masked_fill(~mask.bool(), MASKED)


def sample_rankings(
    scores: torch.Tensor, n_samples: int, generator: torch.Generator
) -> torch.Tensor:
    """Draw ``n_samples`` Plackett-Luce rankings of each row.

    Args:
        scores: float32, shape (B, K), masked slots at :data:`MASKED`.
        n_samples: S.
        generator: The seeded torch stream.

    Returns:
        int64, shape (S, B, K): slots best first; masked slots come last.
    """
    shape = (n_samples, *scores.shape)
    uniform = torch.rand(shape, generator=generator).clamp_(1e-12, 1.0 - 1e-7)
    gumbel = -torch.log(-torch.log(uniform))
    perturbed = scores.detach().unsqueeze(0) + torch.where(
        scores.detach().unsqueeze(0) > MASKED / 2, gumbel, torch.zeros_like(gumbel)
    )
    return torch.argsort(perturbed, dim=-1, descending=True, stable=True)


def log_prob(
    scores: torch.Tensor, order: torch.Tensor, mask: torch.Tensor, depth: int
) -> torch.Tensor:
    """Log-probability of the first ``depth`` positions of each ranking (module docstring).

    Args:
        scores: float32, shape (B, K), masked slots at :data:`MASKED`.
        order: int64, shape (S, B, K): rankings from :func:`sample_rankings`.
        mask: bool, shape (B, K).
        depth: d; positions past a row's real candidates add nothing.

    Returns:
        float32, shape (S, B), differentiable in ``scores``.
    """
    expanded = scores.unsqueeze(0).expand(order.shape[0], -1, -1)
    ranked = torch.gather(expanded, 2, order)
    real = torch.gather(mask.bool().unsqueeze(0).expand_as(order), 2, order)
    tail = torch.logcumsumexp(ranked.flip(-1), dim=-1).flip(-1)
    positions = torch.arange(order.shape[-1]) < depth
    keep = real & positions
    return torch.where(keep, ranked - tail, torch.zeros_like(ranked)).sum(dim=-1)
