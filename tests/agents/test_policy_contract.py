"""The policy contract: ranking, save/load, versioning and clear errors on bad folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from fusionrank.agents.networks import CandidateScorer, FusionNet
from fusionrank.agents.policy import (
    POLICY_FILE,
    load_policy,
    ranking_from_scores,
    registered_kinds,
)
from fusionrank.agents.ppo import PPOFusionPolicy, PPORerankPolicy, expect_kind
from fusionrank.types import PAD, CandidateBatch, Query

FEATURES = ("text_z", "image_z", "price", "fused_score")
MODALITIES = ("text", "image")
DQ = 5


def make_batch(rng: np.random.Generator, b: int = 4, k: int = 7) -> CandidateBatch:
    """B random candidate lists; row r has k - r real candidates, then padding."""
    mask = np.arange(k)[None, :] < (k - np.arange(b))[:, None]
    item_index = np.where(mask, rng.permutation(100)[: b * k].reshape(b, k), PAD)
    features = (rng.normal(size=(b, k, len(FEATURES))) * mask[..., None]).astype(np.float32)
    return CandidateBatch(
        queries=tuple(Query(f"q{i}", f"red shirt {i}") for i in range(b)),
        item_index=item_index.astype(np.int64),
        modality_scores=np.zeros((b, k, len(MODALITIES)), dtype=np.float32),
        features=features,
        mask=mask,
        modality_names=MODALITIES,
        feature_names=FEATURES,
    )


def rerank_policy(seed: int = 0, heads: int = 0) -> PPORerankPolicy:
    torch.manual_seed(seed)
    return PPORerankPolicy(
        CandidateScorer(len(FEATURES), DQ, hidden=16, attention_heads=heads),
        name="ppo-rerank",
        modality_names=MODALITIES,
        feature_names=FEATURES,
        query_feature_dim=DQ,
    )


def test_ranking_is_a_permutation_of_the_unmasked_candidates() -> None:
    rng = np.random.default_rng(0)
    batch = make_batch(rng)
    # Real candidates scored -inf must still rank above padding.
    scores = np.where(rng.random(batch.mask.shape) < 0.3, -np.inf, rng.normal(size=batch.k))
    ranking = ranking_from_scores(scores, batch)
    for row in range(len(batch)):
        n = int(batch.mask[row].sum())
        assert sorted(ranking[row, :n]) == sorted(batch.item_index[row, batch.mask[row]])
        assert (ranking[row, n:] == PAD).all()


def test_ranking_sorts_by_descending_score_and_keeps_ties_in_order() -> None:
    batch = make_batch(np.random.default_rng(1), b=1, k=4)
    ranking = ranking_from_scores(np.array([[0.0, 2.0, 0.0, 1.0]]), batch)
    items = batch.item_index[0]
    assert ranking[0].tolist() == [items[1], items[3], items[0], items[2]]


def test_rerank_policy_save_load_gives_identical_scores(tmp_path: Path) -> None:
    policy = rerank_policy(heads=2)
    batch = make_batch(np.random.default_rng(2))
    qf = np.random.default_rng(3).normal(size=(len(batch), DQ)).astype(np.float32)
    before = policy.scores(batch, qf)
    assert policy.version == "unsaved"
    policy.save(tmp_path / "p")
    loaded = load_policy(tmp_path / "p")
    assert isinstance(loaded, PPORerankPolicy)
    assert loaded.version == policy.version and len(loaded.version) == 12
    np.testing.assert_array_equal(loaded.scores(batch, qf), before)
    assert np.isneginf(before[~batch.mask]).all() and np.isfinite(before[batch.mask]).all()


def test_fusion_policy_save_load_gives_identical_weights(tmp_path: Path) -> None:
    torch.manual_seed(0)
    policy = PPOFusionPolicy(
        FusionNet(DQ, len(MODALITIES), (8, 8)),
        3.0,
        name="ppo-fusion",
        modality_names=MODALITIES,
        feature_names=FEATURES,
        query_feature_dim=DQ,
    )
    queries = [Query("a", "red shirt"), Query("b", "wool scarf")]
    qf = np.random.default_rng(0).normal(size=(2, DQ)).astype(np.float32)
    weights = policy.fusion_weights(queries, qf)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    assert (weights >= 0).all()
    loaded = load_policy(policy.save(tmp_path / "f"))
    np.testing.assert_array_equal(loaded.fusion_weights(queries, qf), weights)
    with pytest.raises(ValueError, match="needs a 'ppo-rerank' policy"):
        expect_kind(loaded, "ppo-rerank", tmp_path / "f")


def test_scores_need_query_features_and_matching_feature_names() -> None:
    policy = rerank_policy()
    batch = make_batch(np.random.default_rng(4))
    with pytest.raises(ValueError, match="needs query_features"):
        policy.scores(batch, None)
    other = CandidateBatch(
        queries=batch.queries,
        item_index=batch.item_index,
        modality_scores=batch.modality_scores,
        features=batch.features,
        mask=batch.mask,
        modality_names=MODALITIES,
        feature_names=("a", "b", "c", "d"),
    )
    with pytest.raises(ValueError, match="was trained on feature_names"):
        policy.scores(other, np.zeros((len(batch), DQ), dtype=np.float32))


def _saved(tmp_path: Path) -> Path:
    return rerank_policy().save(tmp_path / "p")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda f: (f / POLICY_FILE).unlink(), "does not exist"),
        (lambda f: (f / POLICY_FILE).write_text("{not json"), "not valid JSON"),
        (lambda f: _edit(f, kind="no-such-kind"), "unknown policy kind 'no-such-kind'"),
        (lambda f: _edit(f, feature_names="oops"), "field 'feature_names'"),
        (lambda f: _edit(f, name="renamed"), "do not match the version"),
        (lambda f: (f / "scorer.pt").write_bytes(b"broken"), "do not match the version"),
    ],
)
def test_load_policy_rejects_bad_folders(tmp_path: Path, damage, message: str) -> None:
    folder = _saved(tmp_path)
    damage(folder)
    with pytest.raises(ValueError, match=message):
        load_policy(folder)


def _edit(folder: Path, **fields: object) -> None:
    meta = json.loads((folder / POLICY_FILE).read_text())
    meta.update(fields)
    (folder / POLICY_FILE).write_text(json.dumps(meta))


def test_ppo_kinds_are_registered() -> None:
    assert {"ppo-rerank", "ppo-fusion"} <= set(registered_kinds())
