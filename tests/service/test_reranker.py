"""The in-process re-ranker: loading, catalog ids, caller features, search, bad input,
and the ONNX export against the training module."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from fusionrank.agents.policy import load_policy
from fusionrank.agents.scoring import rank_candidates
from fusionrank.retrieval.pool import FUSED_SCORE
from fusionrank.service import RequestError, Reranker, ServiceConfig
from fusionrank.service.export import OnnxScorer, check_export, export_onnx, onnx_session, query_dim
from fusionrank.service.loading import export_path
from fusionrank.types import Query


@pytest.fixture(scope="module")
def reranker(service_run: Path) -> Reranker:
    return Reranker.load(service_run, ServiceConfig(policy="ppo-rerank", max_candidates=50))


def test_loads_policy_with_onnx_engine(reranker: Reranker, service_run: Path) -> None:
    assert reranker.engine == "onnx"
    assert reranker.name == "ppo-rerank"
    assert len(reranker.version) == 12
    assert export_path(reranker.policy, service_run).is_file()  # the cached export


def test_onnx_export_gives_the_training_scores(reranker: Reranker) -> None:
    policy = reranker.policy
    scorer = OnnxScorer(onnx_session(export_onnx(policy)), query_dim(policy))
    check = check_export(policy, scorer)
    assert check.max_abs_diff <= 1e-5
    # And on real candidates: the engine's scores are the policy's own scores.
    retriever = reranker.retriever
    assert retriever is not None
    queries = [Query("a", "red cotton shirt"), Query("b", "leather bag")]
    batch = retriever.search(queries, 25)
    qf = retriever.query_features(queries)
    expected = policy.scores(batch, qf)
    got = scorer(batch.features, batch.mask, qf)
    np.testing.assert_allclose(got[batch.mask], expected[batch.mask], atol=1e-5, rtol=1e-6)
    assert np.all(np.isneginf(got[~batch.mask]))


def test_catalog_ids_rank_as_the_policy_ranks(reranker: Reranker) -> None:
    retriever = reranker.retriever
    assert retriever is not None
    query = Query("service", "blue striped dress")
    batch, ranking = rank_candidates(reranker.policy, retriever, [query], 20)
    ids = [str(retriever.item_ids[i]) for i in batch.item_index[0][batch.mask[0]]]
    shuffled = list(np.random.default_rng(0).permutation(ids))
    result = reranker.rerank(query.text, shuffled, top_k=len(ids))
    expected = [str(retriever.item_ids[i]) for i in ranking[0] if i >= 0]
    assert list(result.item_ids) == expected
    assert np.all(np.diff(result.scores) <= 0)
    assert result.policy_version == reranker.version
    assert result.fusion_weights is not None
    assert sum(result.fusion_weights.values()) == pytest.approx(1.0)


def test_given_features_match_catalog_features(reranker: Reranker, catalog_ids: list[str]) -> None:
    """Unseen items scored from their features get the scores catalog items get."""
    retriever = reranker.retriever
    assert retriever is not None
    ids = catalog_ids[:30]
    by_id = reranker.rerank("green wool sweater", ids, top_k=30)
    features = retriever.pair_features(["green wool sweater"], np.arange(30)[None])[0]
    renamed = [f"new-{i}" for i in ids]
    fused = reranker.policy.feature_names.index(FUSED_SCORE)
    without_fused = np.delete(features, fused, axis=1)
    given = reranker.rerank("green wool sweater", renamed, features=without_fused, top_k=30)
    assert [i.removeprefix("new-") for i in given.item_ids] == list(by_id.item_ids)
    np.testing.assert_allclose(given.scores, by_id.scores, atol=1e-5)
    names = list(reranker.policy.feature_names)
    reordered = reranker.rerank(
        "green wool sweater",
        renamed,
        features=features[:, ::-1],
        feature_names=names[::-1],
        top_k=30,
    )
    np.testing.assert_allclose(reordered.scores, given.scores, atol=1e-5)


def test_first_stage_order_breaks_ties(service_run: Path, catalog_ids: list[str]) -> None:
    """A fusion-order policy keeps the candidates in the caller's first-stage order."""
    from fusionrank.agents.baselines import StaticFusion

    saved = load_policy(service_run / "policies" / "ppo-rerank")
    folder = service_run.parent / "static" / "policies" / "static-fusion"
    StaticFusion(
        np.full(len(saved.modality_names), 1 / len(saved.modality_names)),
        name="static-fusion",
        modality_names=saved.modality_names,
        feature_names=saved.feature_names,
    ).save(folder)
    static = Reranker.load(folder)
    assert static.engine == "policy"
    features = np.zeros((4, len(saved.feature_names)), dtype=np.float32)
    ids = ["a", "b", "c", "d"]
    result = static.rerank("shirt", ids, features=features, first_stage_scores=[0.1, 0.4, 0.3, 0.2])
    assert result.item_ids == ("b", "c", "d", "a")


BAD_INPUT = [
    ({"item_ids": []}, "item_ids", "empty"),
    ({"item_ids": [f"x{i}" for i in range(51)]}, "item_ids", "limit of 50"),
    ({"item_ids": ["a", "b", "a"]}, "item_ids", "duplicate"),
    ({"item_ids": ["not-an-item"]}, "item_ids", "not in the catalog"),
    ({"query_text": "  "}, "query", "empty"),
    ({"features": [[0.0] * 3]}, "features", "rows have 3 values"),
    ({"features": "nan"}, "features[0]", "finite"),
    ({"first_stage_scores": [1.0, 2.0]}, "first_stage_scores", "one number per candidate"),
    ({"modality_scores": [[1.0]]}, "modality_scores", "rows have 1 values"),
    ({"top_k": 0}, "top_k", ">= 1"),
    ({"feature_names": ["nope"], "features": [[0.0]]}, "feature_names", "unknown"),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_INPUT)
def test_bad_input_names_the_field(
    reranker: Reranker, catalog_ids: list[str], change: dict, field: str, message: str
) -> None:
    n_features = len(reranker.policy.feature_names)
    request: dict = {"query_text": "red shirt", "item_ids": [catalog_ids[0]]}
    request.update(change)
    if request.get("features") == "nan":
        request["features"] = [[float("nan")] * n_features]
    with pytest.raises(RequestError, match=message) as caught:
        reranker.rerank(**request)
    assert caught.value.field == field


def test_search_uses_the_policys_pipeline(reranker: Reranker) -> None:
    retriever = reranker.retriever
    assert retriever is not None
    result = reranker.search("red cotton shirt", k=20, top_k=5)
    _, ranking = rank_candidates(
        reranker.policy, retriever, [Query("service", "red cotton shirt")], 20
    )
    assert list(result.item_ids) == [str(retriever.item_ids[i]) for i in ranking[0][:5]]
    assert result.n_candidates == 20


def test_fusion_policy_ranks_by_its_own_weights(service_run: Path) -> None:
    """A fusion policy's re-rank of catalog ids is its fused order, as in retrieval."""
    reranker = Reranker.load(service_run / "policies" / "ppo-fusion")
    retriever = reranker.retriever
    assert reranker.engine == "policy" and retriever is not None
    query = Query("service", "leather bag")
    batch, ranking = rank_candidates(reranker.policy, retriever, [query], 20)
    ids = [str(retriever.item_ids[i]) for i in batch.item_index[0][batch.mask[0]]]
    result = reranker.rerank(query.text, ids[::-1], top_k=20)
    assert list(result.item_ids) == [str(retriever.item_ids[i]) for i in ranking[0] if i >= 0]
    weights = reranker.policy.fusion_weights([query], retriever.query_features([query]))
    assert result.fusion_weights is not None
    np.testing.assert_allclose(list(result.fusion_weights.values()), weights[0], atol=1e-6)


def test_lambdamart_serves_through_its_scores(service_run: Path, catalog_ids: list[str]) -> None:
    reranker = Reranker.load(service_run / "policies" / "lambdamart")
    assert reranker.engine == "policy" and reranker.retriever is not None
    result = reranker.rerank("leather bag", catalog_ids[:40], top_k=40)
    assert sorted(result.item_ids) == sorted(catalog_ids[:40])
    assert np.all(np.diff(result.scores) <= 0)


def test_bad_policy_folders_fail_clearly(service_run: Path, tmp_path: Path) -> None:
    assert Reranker.load(service_run).name == "ppo-rerank"  # the default among three
    two = tmp_path / "two"
    for name in ("lambdamart", "ppo-fusion"):
        shutil.copytree(service_run / "policies" / name, two / "policies" / name)
    with pytest.raises(ValueError, match="choose one with --policy"):
        Reranker.load(two)
    with pytest.raises(ValueError, match=r"service\.policy=.nope."):
        Reranker.load(service_run, ServiceConfig(policy="nope"))
    broken = tmp_path / "run" / "policies" / "ppo-rerank"
    shutil.copytree(service_run / "policies" / "ppo-rerank", broken)
    meta = json.loads((broken / "policy.json").read_text())
    meta["config"]["hidden"] = 7  # the config decides the scores: it is in the version
    (broken / "policy.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="do not match the version"):
        Reranker.load(broken)
    with pytest.raises(ValueError, match="needs query features"):
        shutil.copytree(service_run / "policies" / "ppo-rerank-b", tmp_path / "alone")
        Reranker.load(tmp_path / "alone")


def test_torch_engine_matches_onnx(service_run: Path, reranker: Reranker) -> None:
    slow = Reranker.load(service_run, ServiceConfig(policy="ppo-rerank", engine="torch"))
    assert slow.engine == "torch"
    a = slow.rerank("blue striped dress", [str(i) for i in slow.retriever.item_ids[:50]])  # type: ignore[union-attr]
    b = reranker.rerank("blue striped dress", [str(i) for i in slow.retriever.item_ids[:50]])  # type: ignore[union-attr]
    assert a.item_ids == b.item_ids
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    assert torch.get_num_threads() >= 1


def test_served_without_retriever_or_fused_score_ranks_as_in_training(
    service_run: Path, tmp_path: Path
) -> None:
    """The train/serve skew: a policy served from features without ``fused_score`` and
    without a retriever fuses with the default weights it was trained with (saved with
    it), not uniform ones, so it ranks exactly as ``rank_candidates`` ranked in training."""
    from fusionrank.agents.baselines import DefaultOrder
    from fusionrank.retrieval.retriever import Retriever

    from .conftest import QUERIES

    retriever = Retriever.load(service_run / "retrieval")
    policy = DefaultOrder.create(retriever.modality_names, retriever.feature_names)
    policy.default_fusion_weights = retriever.default_weights(1)[0]  # 4/7, 3/7
    served = Reranker.load(policy.save(tmp_path / "no-run" / "default-order"))
    assert served.retriever is None and served.engine == "policy"
    queries = [Query("service", text) for text in QUERIES]
    batch, ranking = rank_candidates(policy, retriever, queries, 30)
    fused = list(retriever.feature_names).index(FUSED_SCORE)
    rng = np.random.default_rng(0)
    uniform_differs = False
    for row, query in enumerate(queries):
        real = batch.mask[row]
        shuffle = rng.permutation(int(real.sum()))
        ids = [str(retriever.item_ids[i]) for i in batch.item_index[row, real][shuffle]]
        given = np.delete(batch.features[row, real], fused, axis=1)[shuffle]
        result = served.rerank(query.text, ids, features=given, top_k=len(ids))
        expected = [str(retriever.item_ids[i]) for i in ranking[row] if i >= 0]
        assert list(result.item_ids) == expected
        np.testing.assert_array_equal(result.scores, batch.features[row, real, fused])
        z = given[:, [list(retriever.feature_names).index(f"{m}_z") for m in policy.modality_names]]
        uniform = np.argsort(-(z @ np.full(len(policy.modality_names), 0.5)), kind="stable")
        uniform_differs |= [ids[i] for i in uniform] != expected
    assert uniform_differs  # the old uniform fallback would have ranked differently


def test_a_policy_without_saved_defaults_and_no_retriever_asks_for_fused_score(
    service_run: Path, tmp_path: Path
) -> None:
    from fusionrank.agents.baselines import DefaultOrder

    saved = load_policy(service_run / "policies" / "ppo-rerank")
    bare = DefaultOrder.create(saved.modality_names, saved.feature_names)  # no defaults
    served = Reranker.load(bare.save(tmp_path / "bare"))
    features = np.zeros((2, len(saved.feature_names) - 1), dtype=np.float32)
    with pytest.raises(RequestError, match="no fusion weights of its own nor default_fusion"):
        served.rerank("shirt", ["a", "b"], features=features)
    full = np.zeros((2, len(saved.feature_names)), dtype=np.float32)
    assert served.rerank("shirt", ["a", "b"], features=full).n_candidates == 2


def test_a_reload_of_the_same_run_keeps_the_query_cache(service_run: Path) -> None:
    """A reload swaps the policy, not the retriever: queries already encoded and searched
    stay cached (the new policy only adds its fusion weights), so traffic stays warm."""
    config = ServiceConfig(policy="ppo-rerank")
    first = Reranker.load(service_run, config)
    first.search("wool scarf for winter", top_k=3)
    assert first.is_cached("wool scarf for winter")
    second = Reranker.load(service_run / "policies" / "ppo-fusion", config, reuse=first)
    assert second.retriever is first.retriever
    assert second.is_cached("wool scarf for winter") and not second.is_cached("never asked")
    batches = second.contexts.retrieval.batches  # type: ignore[union-attr]
    result = second.search("wool scarf for winter", top_k=3)
    assert second.contexts.retrieval.batches == batches  # type: ignore[union-attr]
    assert result.policy_name == "ppo-fusion" and len(result.item_ids) == 3


def test_without_a_choice_the_run_serves_pg_joint_then_ppo_rerank(tmp_path: Path) -> None:
    from fusionrank.agents.policy import POLICY_FILE
    from fusionrank.service.loading import resolve

    run = tmp_path / "run"
    for name in ("lambdamart", "ppo-rerank", "pg-joint"):
        (run / "policies" / name).mkdir(parents=True)
        (run / "policies" / name / POLICY_FILE).write_text("{}")
    assert resolve(run, None) == (run / "policies" / "pg-joint", run)
    shutil.rmtree(run / "policies" / "pg-joint")
    assert resolve(run, None) == (run / "policies" / "ppo-rerank", run)
    assert resolve(run, "lambdamart") == (run / "policies" / "lambdamart", run)
