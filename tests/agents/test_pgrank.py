"""PG-Rank: Plackett-Luce sampling and likelihood, and a short seeded training that beats
the default order in its own (fitted) simulator."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from fusionrank.agents import plackett_luce as pl
from fusionrank.agents.config import AgentConfig, NetworkConfig, PGRankConfig
from fusionrank.agents.pgrank_train import train_pg_policy
from fusionrank.agents.policy import load_policy
from fusionrank.agents.scoring import rank_candidates
from fusionrank.envs.components import EnvComponents


def test_log_prob_golden_and_normalised() -> None:
    # scores (0, ln 2, ln 3): P(2, 1, 0) = 3/6 * 2/3 * 1 = 1/3.
    scores = torch.tensor([[0.0, math.log(2), math.log(3)]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    order = torch.tensor([[[2, 1, 0]]])
    assert pl.log_prob(scores, order, mask, 3).exp().item() == pytest.approx(1 / 3)
    # The probabilities of all 6 rankings sum to 1; of their 2-prefixes, too.
    orders = torch.tensor([list(p) for p in itertools.permutations(range(3))])[:, None, :]
    assert pl.log_prob(scores, orders, mask, 3).exp().sum().item() == pytest.approx(1.0)
    prefixes = pl.log_prob(scores, orders[[0, 2, 4]], mask, 1).exp().sum().item()
    assert prefixes == pytest.approx(1.0)


def test_samples_follow_plackett_luce_and_skip_masked_slots() -> None:
    scores = torch.tensor([[0.0, math.log(2), math.log(3), 5.0]])
    mask = torch.tensor([[True, True, True, False]])
    safe = pl.masked_scores(scores, mask)
    order = pl.sample_rankings(safe, 30_000, torch.Generator().manual_seed(0))
    assert torch.all(order[..., -1] == 3)  # the masked slot is always last
    first = torch.bincount(order[:, 0, 0], minlength=4).double() / 30_000
    np.testing.assert_allclose(first.numpy(), [1 / 6, 2 / 6, 3 / 6, 0], atol=0.01)


@pytest.mark.slow
def test_short_training_beats_the_default_order_in_its_simulator(
    env_components: EnvComponents, tmp_path
) -> None:
    config = AgentConfig(
        network=NetworkConfig(hidden=8),
        pgrank=PGRankConfig(iterations=40, queries_per_step=32, samples=8, eval_every=10),
    )
    env_config = env_components.config.model_copy(update={"reward_mode": "expected"})
    trained = train_pg_policy(env_components, env_config, config, seed=5, out=tmp_path / "pg")
    history = trained.result.history
    kept = trained.policy.metrics["simulator_value"]
    assert kept > history[0]["value"] * 1.01, history
    loaded = load_policy(tmp_path / "pg")
    queries = list(env_components.pool.queries[:4])
    a = rank_candidates(loaded, env_components.retriever, queries, 10)[1]
    b = rank_candidates(trained.policy, env_components.retriever, queries, 10)[1]
    np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_augmented_policy_reads_lambdamart_and_beliefs_and_round_trips(
    env_components: EnvComponents, env_pages, tmp_path
) -> None:
    from fusionrank.agents.baselines.config import LambdaMARTConfig
    from fusionrank.agents.baselines.lambdamart import LambdaMART
    from fusionrank.agents.rl_policies import AugmentedRerankPolicy

    lambdamart = LambdaMART.fit(
        env_components.retriever,
        env_components.simulator,
        env_pages,
        LambdaMARTConfig(n_estimators=10),
        seed=0,
    )
    config = AgentConfig(
        network=NetworkConfig(hidden=8),
        pgrank=PGRankConfig(
            iterations=6,
            queries_per_step=16,
            samples=4,
            eval_every=3,
            inputs=["lambdamart", "beliefs"],
            start="beliefs",
        ),
    )
    env_config = env_components.config.model_copy(update={"reward_mode": "expected"})
    trained = train_pg_policy(
        env_components, env_config, config, 1, tmp_path / "aug", lambdamart=lambdamart
    )
    assert isinstance(trained.policy, AugmentedRerankPolicy)
    assert trained.policy.config["extra"] == ["lambdamart_score", "sim_value", "sim_evidence"]
    loaded = load_policy(tmp_path / "aug")
    queries = list(env_components.pool.queries[:5])
    a = rank_candidates(loaded, env_components.retriever, queries, 10)[1]
    b = rank_candidates(trained.policy, env_components.retriever, queries, 10)[1]
    np.testing.assert_array_equal(a, b)
    # The beliefs give logged pairs their evidence, and never-logged ones none.
    batch, _ = rank_candidates(loaded, env_components.retriever, queries, 10)
    extended = loaded.extended(batch)
    evidence = extended[..., -1][batch.mask]
    assert (evidence > 0).any() and (evidence >= 0).all()


@pytest.mark.slow
def test_joint_fusion_and_rerank_training_improves_and_round_trips(
    env_components: EnvComponents, tmp_path
) -> None:
    from fusionrank.agents.pgjoint import JointRerankPolicy
    from fusionrank.agents.pgrank_train import train_joint_policy

    config = AgentConfig(
        network=NetworkConfig(hidden=8, fusion_hidden=(8,)),
        pgrank=PGRankConfig(iterations=30, queries_per_step=32, samples=8, eval_every=10),
    )
    env_config = env_components.config.model_copy(update={"reward_mode": "expected"})
    trained = train_joint_policy(env_components, env_config, config, 2, tmp_path / "joint")
    history = trained.result.history
    assert trained.result.kept_value > history[0]["value"], history
    loaded = load_policy(tmp_path / "joint")
    assert isinstance(loaded, JointRerankPolicy)
    queries = list(env_components.pool.queries[:6])
    qf = env_components.retriever.query_features(queries)
    weights = loaded.fusion_weights(queries, qf)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    np.testing.assert_array_equal(weights, trained.policy.fusion_weights(queries, qf))
    a = rank_candidates(loaded, env_components.retriever, queries, 10)[1]
    b = rank_candidates(trained.policy, env_components.retriever, queries, 10)[1]
    np.testing.assert_array_equal(a, b)
    # Same seed, same policy, whatever drew from torch's global stream before.
    torch.rand(7)
    again = train_joint_policy(env_components, env_config, config, 2, tmp_path / "again")
    assert again.policy.version == trained.policy.version
