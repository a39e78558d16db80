"""The candidate scorer is permutation-equivariant and blind to padding."""

from __future__ import annotations

import pytest
import torch

from fusionrank.agents.networks import CandidateScorer, RerankLatent, RerankLayout

B, K, F, DQ = 3, 6, 4, 5


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    features = torch.randn(B, K, F, generator=g)
    mask = torch.ones(B, K, dtype=torch.bool)
    mask[1, 4:] = False
    mask[2, 1:] = False
    return features * mask[..., None], mask, torch.randn(B, DQ, generator=g)


@pytest.mark.parametrize("heads", [0, 2])
def test_permuting_candidates_permutes_scores(heads: int) -> None:
    torch.manual_seed(0)
    net = CandidateScorer(F, DQ, hidden=16, attention_heads=heads).eval()
    features, mask, qf = _inputs()
    perm = torch.randperm(K)
    with torch.no_grad():
        base = net(features, mask, qf)
        permuted = net(features[:, perm], mask[:, perm], qf)
    torch.testing.assert_close(permuted, base[:, perm])


@pytest.mark.parametrize("heads", [0, 2])
def test_adding_masked_slots_changes_nothing(heads: int) -> None:
    torch.manual_seed(1)
    net = CandidateScorer(F, DQ, hidden=16, attention_heads=heads).eval()
    features, mask, qf = _inputs(1)
    junk = torch.randn(B, 3, F) * 100
    with torch.no_grad():
        base = net(features, mask, qf)
        padded = net(
            torch.cat([features, junk], dim=1),
            torch.cat([mask, torch.zeros(B, 3, dtype=torch.bool)], dim=1),
            qf,
        )
        # Garbage in masked slots is ignored too.
        dirty = net(torch.where(mask[..., None], features, 50.0), mask, qf)
    torch.testing.assert_close(padded[:, :K], base)
    torch.testing.assert_close(dirty, base)
    assert torch.isneginf(padded[:, K:]).all()
    assert torch.isneginf(base[~mask]).all() and torch.isfinite(base[mask]).all()


def test_flat_layout_round_trips_and_latent_shapes() -> None:
    layout = RerankLayout(K, F, DQ)
    features, mask, qf = _inputs(2)
    flat = torch.cat([features.reshape(B, -1), mask.float(), qf], dim=1)
    assert flat.shape == (B, layout.size)
    f2, m2, q2 = layout.split(flat)
    torch.testing.assert_close(f2, features)
    assert torch.equal(m2, mask)
    torch.testing.assert_close(q2, qf)
    latent = RerankLatent(layout, hidden=8, attention_heads=0)
    scores, context = latent(flat)
    assert scores.shape == (B, K) and context.shape == (B, 8)
    assert (scores[~mask] == 0).all() and (scores.abs() <= 1).all()


def test_prior_start_ranks_like_the_prior_feature() -> None:
    torch.manual_seed(3)
    net = CandidateScorer(F, DQ, hidden=16, prior_feature=F - 1).eval()
    features, mask, qf = _inputs(3)
    net.item_norm.fit(features[mask].numpy())
    with torch.no_grad():
        scores = net(features, mask, qf)
    # The head starts 10x smaller than the prior path; with well-separated prior values
    # the order is the prior feature's.
    prior = features[..., F - 1].masked_fill(~mask, float("-inf"))
    top = scores.argmax(dim=1)
    assert torch.equal(top, prior.argmax(dim=1))
