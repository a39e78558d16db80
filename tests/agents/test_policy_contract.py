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
from fusionrank.agents.policy_files import policy_version
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
        (lambda f: _edit(f, True, kind="no-such-kind"), "unknown policy kind 'no-such-kind'"),
        (lambda f: _edit(f, feature_names="oops"), "field 'feature_names'"),
        (lambda f: _edit(f, config={"hidden": 99}), "do not match the version"),
        (lambda f: _edit(f, default_fusion_weights=[0.9, 0.1]), "do not match the version"),
        (lambda f: _edit(f, files={}), "scorer.pt is not listed"),
        (lambda f: _edit(f, files="oops"), "field 'files'"),
        (lambda f: _drop(f, "files"), "no file hashes"),
        (lambda f: (f / "scorer.pt").write_bytes(b"broken"), "scorer.pt does not match its"),
        (lambda f: (f / "scorer.pt").unlink(), "scorer.pt is listed in policy.json but missing"),
        (lambda f: (f / "extra.bin").write_bytes(b"x"), "extra.bin is not listed"),
    ],
)
def test_load_policy_rejects_bad_folders(tmp_path: Path, damage, message: str) -> None:
    folder = _saved(tmp_path)
    damage(folder)
    with pytest.raises(ValueError, match=message):
        load_policy(folder)


def _edit(folder: Path, consistent: bool = False, **fields: object) -> None:
    """Change fields of policy.json; ``consistent``: rewrite the version to match."""
    meta = json.loads((folder / POLICY_FILE).read_text())
    meta.update(fields)
    if consistent:
        meta["version"] = policy_version(meta)
    (folder / POLICY_FILE).write_text(json.dumps(meta))


def _drop(folder: Path, field: str) -> None:
    meta = json.loads((folder / POLICY_FILE).read_text())
    del meta[field]
    (folder / POLICY_FILE).write_text(json.dumps(meta))


def test_version_hashes_what_decides_the_scores_not_metrics_or_name(tmp_path: Path) -> None:
    first = rerank_policy(seed=0)
    first.metrics = {"train_seconds": 12.3}
    second = rerank_policy(seed=0)
    second.metrics = {"train_seconds": 45.6, "timesteps": 7}
    second.name = "ppo-rerank-copy"
    first.save(tmp_path / "a")
    second.save(tmp_path / "b")
    assert first.version == second.version  # same weights, other metrics and name
    meta = json.loads((tmp_path / "a" / POLICY_FILE).read_text())
    assert set(meta["files"]) == {"scorer.pt"} and len(meta["files"]["scorer.pt"]) == 64
    other = load_policy(rerank_policy(seed=1).save(tmp_path / "c"))
    assert other.version != first.version  # other weights
    _edit(tmp_path / "a", name="renamed", metrics={"anything": 1})  # harmless edits
    assert load_policy(tmp_path / "a").version == first.version


def test_default_fusion_weights_are_saved_and_decide_the_default(tmp_path: Path) -> None:
    policy = rerank_policy()
    queries = [Query("a", "red shirt"), Query("b", "wool scarf")]
    assert policy.weights_for(queries) is None  # no own weights, no defaults, no retriever
    policy.default_fusion_weights = np.array([0.4, 0.6], dtype=np.float32)
    weights = policy.weights_for(queries)
    assert weights is not None and weights.dtype == np.float64
    np.testing.assert_array_equal(weights, np.float32([[0.4, 0.6], [0.4, 0.6]]))
    policy.save(tmp_path / "p")
    before = policy.version
    loaded = load_policy(tmp_path / "p")
    assert loaded.default_fusion_weights == policy.default_fusion_weights
    assert loaded.version == before
    policy.default_fusion_weights = [0.5, 0.5]
    policy.save(tmp_path / "q")
    assert policy.version != before  # the defaults decide the fused score: they are hashed
    with pytest.raises(ValueError, match="default_fusion_weights must be 2 weights"):
        policy.default_fusion_weights = [0.2, 0.2, 0.6]
    with pytest.raises(ValueError, match="summing to 1"):
        policy.default_fusion_weights = [0.2, 0.2]


def test_ppo_kinds_are_registered() -> None:
    assert {"ppo-rerank", "ppo-fusion"} <= set(registered_kinds())


def test_a_retriever_with_other_query_features_is_refused_by_name() -> None:
    from types import SimpleNamespace

    from fusionrank.agents.policy import check_retriever

    policy = rerank_policy()
    same = SimpleNamespace(
        modality_names=MODALITIES,
        feature_names=FEATURES,
        query_feature_names=tuple(f"q{i}" for i in range(DQ)),
    )
    check_retriever(policy, same)
    wider = SimpleNamespace(**{**vars(same), "query_feature_names": ("has_text",) * (DQ + 2)})
    with pytest.raises(ValueError, match=f"reads {DQ} query features but the retriever gives"):
        check_retriever(policy, wider)
