"""PPO trains in the real envs (tiny world), saves, and loads to the same actions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fusionrank.agents.config import AgentConfig, NetworkConfig
from fusionrank.agents.policy import load_policy, ranking_from_scores
from fusionrank.agents.ppo import PPOFusionPolicy, PPORerankPolicy, expect_kind
from fusionrank.agents.scoring import rank_candidates
from fusionrank.agents.train import TrainResult, agent_envs, train_ppo
from fusionrank.envs.components import EnvComponents
from fusionrank.types import PAD, Query

pytestmark = pytest.mark.slow

SMOKE = AgentConfig(
    n_envs=16,
    n_steps=16,
    batch_size=128,
    n_epochs=2,
    eval_every=256,
    eval_pages=64,
    checkpoint_every=256,
    network=NetworkConfig(hidden=8, fusion_hidden=(8,)),
)


@pytest.fixture(scope="module")
def trained(env_components: EnvComponents, tmp_path_factory: pytest.TempPathFactory):
    """A re-rank and a fusion agent, each trained for 512 env steps."""
    out = tmp_path_factory.mktemp("ppo")
    results: dict[str, TrainResult] = {}
    for kind in ("rerank", "fusion"):
        envs = agent_envs(env_components, env_components.config, kind, SMOKE.n_envs, seed=3)
        results[kind] = train_ppo(envs, SMOKE, 0, out / kind, 512, out / "tb", out / "ckpt")
    return results, out


def test_training_saves_policies_logs_and_checkpoints(trained) -> None:
    results, out = trained
    rerank, fusion = results["rerank"], results["fusion"]
    assert rerank.steps >= 512 and len(rerank.history) >= 2
    assert isinstance(rerank.policy, PPORerankPolicy)
    assert isinstance(fusion.policy, PPOFusionPolicy)
    assert rerank.policy.metrics["default_order_mean_reward"] >= 0
    events = list((out / "tb").rglob("events.out.tfevents*"))
    assert len(events) == 2
    assert list((out / "ckpt").glob("*.zip"))


def test_loaded_rerank_policy_acts_like_the_trained_model(
    trained, env_components: EnvComponents
) -> None:
    policy = trained[0]["rerank"].policy
    loaded = load_policy(trained[0]["rerank"].folder)
    expect_kind(loaded, "ppo-rerank", trained[0]["rerank"].folder)
    cands = env_components.candidates
    rows = np.arange(min(len(cands), 32))
    qf = env_components.query_features[rows]
    features = torch.from_numpy(cands.features[rows])
    mask = torch.from_numpy(cands.mask[rows])
    with torch.no_grad():
        exported = loaded.scorer()(features, mask, torch.from_numpy(qf)).numpy()
    sub = _rows(cands, rows)
    scores = loaded.scores(sub, qf)
    np.testing.assert_array_equal(scores, policy.scores(sub, qf))
    np.testing.assert_allclose(scores, exported, rtol=1e-6)
    ranking = ranking_from_scores(scores, sub)
    for row in range(len(sub)):
        real = sub.item_index[row][sub.mask[row]]
        assert sorted(ranking[row, : real.size]) == sorted(real)
        assert (ranking[row, real.size :] == PAD).all()


def test_rank_candidates_joins_fusion_and_scores(trained, env_components: EnvComponents) -> None:
    retriever = env_components.retriever
    queries = list(env_components.pool.queries[:5])
    for kind in ("rerank", "fusion"):
        policy = load_policy(trained[0][kind].folder)
        batch, ranking = rank_candidates(policy, retriever, queries, k=10)
        assert ranking.shape == (5, 10) and ranking.dtype == np.int64
        for row in range(5):
            real = batch.item_index[row][batch.mask[row]]
            assert sorted(ranking[row, : real.size]) == sorted(real)
    fusion = load_policy(trained[0]["fusion"].folder)
    qf = retriever.query_features(queries)
    np.testing.assert_array_equal(
        fusion.fusion_weights(queries, qf), trained[0]["fusion"].policy.fusion_weights(queries, qf)
    )
    with pytest.raises(ValueError, match="needs a 'ppo-rerank' policy"):
        expect_kind(fusion, "ppo-rerank", trained[0]["fusion"].folder)
    with pytest.raises(ValueError, match="needs query_features"):
        fusion.fusion_weights([Query("x", "red")], None)


def _rows(cands, rows):
    from fusionrank.types import CandidateBatch

    return CandidateBatch(
        queries=tuple(cands.queries[i] for i in rows),
        item_index=cands.item_index[rows],
        modality_scores=cands.modality_scores[rows],
        features=cands.features[rows],
        mask=cands.mask[rows],
        modality_names=cands.modality_names,
        feature_names=cands.feature_names,
    )
