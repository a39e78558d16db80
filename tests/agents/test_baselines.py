"""The baseline policies on a tiny ShopWorld run: rankings, determinism, save/load, and
that each learned baseline does what it optimises (LambdaMART on held-out clicks, static
fusion in the fitted simulator); the oracle refuses to exist without the hidden truth.

One run folder is built per module: the tiny world, a text + lexical retriever (no CLIP,
to stay fast), ``sim fit`` and ``baselines fit`` through the CLI.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fusionrank.agents.baselines import (
    DefaultOrder,
    LambdaMART,
    LoggingPolicy,
    OracleShopWorld,
    StaticFusion,
    examination_propensities,
    simplex_grid,
)
from fusionrank.agents.baselines.fitting import FitInputs, fit_baselines
from fusionrank.agents.baselines.stages import load_fit_inputs
from fusionrank.agents.baselines.static_fusion import FusionObjective, logged_traffic
from fusionrank.agents.policy import Policy, load_policy
from fusionrank.agents.scoring import rank_candidates
from fusionrank.cli import app, register_commands
from fusionrank.config import RunConfig, load_config
from fusionrank.datasets import load_catalog
from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.retrieval.config import RetrievalConfig
from fusionrank.retrieval.pool import fuse
from fusionrank.retrieval.retriever import Retriever
from fusionrank.runs import RunFolder
from fusionrank.seeding import int_seed
from fusionrank.types import PAD, Query

pytestmark = pytest.mark.slow  # one tiny run folder per module: retriever, simulator, fits

SAVED = ("default-order", "logging", "static-fusion", "lambdamart")
SETTINGS = [
    "--set",
    "retrieval.threads=1",
    "--set",
    "simulator.em_iterations=15",
    "--set",
    "baselines.grid_step=0.1",
    "--set",
    "baselines.lambdamart.n_estimators=60",
]


def invoke(runner: CliRunner, *args: str) -> None:
    result = runner.invoke(app, [*args, "--name", "tiny", *SETTINGS])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"


@pytest.fixture(scope="module")
def run(tiny_world: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run folder with world, retriever, fitted simulator and saved baselines."""
    root = tmp_path_factory.mktemp("baselines")
    folder = root / "runs" / "tiny"
    shutil.copytree(tiny_world, folder / "world")
    catalog = load_catalog(folder / "world" / "data" / "catalog.parquet", check_images=False)
    config = RetrievalConfig(image=False, threads=1, k_per_modality=40, k=30)
    Retriever.build(catalog, config, folder / "retrieval").save(folder / "retrieval")
    runner = CliRunner()
    register_commands()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        invoke(runner, "sim", "fit")
        invoke(runner, "baselines", "fit")
    return folder


@pytest.fixture(scope="module")
def resolved(run: Path) -> RunConfig:
    overrides = [s for s in SETTINGS if s != "--set"]
    return load_config(None, [*overrides, "name=tiny", f"runs_dir={run.parent}"])


@pytest.fixture(scope="module")
def inputs(run: Path, resolved: RunConfig) -> FitInputs:
    return load_fit_inputs(RunFolder(run), resolved.retrieval)


@pytest.fixture(scope="module")
def saved(run: Path) -> dict[str, Policy]:
    policies = {name: load_policy(run / "policies" / name) for name in SAVED}
    policies["oracle"] = OracleShopWorld.from_truth(
        run / "world" / "truth",
        policies["logging"].modality_names,
        policies["logging"].feature_names,
    )
    return policies


@pytest.fixture(scope="module")
def queries(inputs: FitInputs) -> list[Query]:
    pages = inputs.pages
    return [Query(str(i), str(t)) for i, t in zip(pages.query_ids, pages.query_texts, strict=True)]


def test_saved_policies_have_the_expected_classes(saved):
    expected = (DefaultOrder, LoggingPolicy, StaticFusion, LambdaMART, OracleShopWorld)
    for policy, cls in zip(saved.values(), expected, strict=True):
        assert isinstance(policy, cls)
        assert policy.version != "unsaved" or cls is OracleShopWorld


@pytest.mark.parametrize("name", [*SAVED, "oracle"])
def test_ranking_is_a_permutation_of_the_unmasked_candidates(name, saved, inputs, queries):
    retriever = inputs.retriever
    # k beyond the pooled candidates forces padding into every list.
    k = retriever.pool(queries[:3]).size + 5
    batch, ranking = rank_candidates(saved[name], retriever, queries, k)
    assert ranking.shape == (len(queries), k) and ranking.dtype == np.int64
    assert (~batch.mask).any()
    for row in range(len(queries)):
        real = batch.item_index[row][batch.mask[row]]
        n = real.size
        assert sorted(ranking[row, :n].tolist()) == sorted(real.tolist())
        assert np.all(ranking[row, n:] == PAD)
    scores = saved[name].scores(batch)
    assert np.all(np.isneginf(scores[~batch.mask]))
    assert np.all(np.isfinite(scores[batch.mask]))


@pytest.fixture(scope="module")
def refitted(inputs: FitInputs, resolved: RunConfig) -> dict[str, Policy]:
    fitted = fit_baselines(inputs, resolved.baselines, int_seed(resolved.seed, "agent"))
    return {name: policy for name, (policy, _) in fitted.items()}


@pytest.mark.parametrize("name", SAVED)
def test_fitting_again_gives_the_saved_scores(name, saved, refitted, inputs, queries):
    retriever = inputs.retriever
    weights = saved[name].fusion_weights(queries)
    pool = retriever.pool(queries)
    batch = fuse(pool, retriever.default_weights(len(queries)) if weights is None else weights, 30)
    np.testing.assert_array_equal(refitted[name].scores(batch), saved[name].scores(batch))
    np.testing.assert_array_equal(saved[name].scores(batch), saved[name].scores(batch))


@pytest.mark.parametrize("name", [*SAVED, "oracle"])
def test_save_then_load_gives_identical_scores(name, saved, inputs, queries, tmp_path):
    policy = saved[name]
    policy.save(tmp_path / name)
    loaded = load_policy(tmp_path / name)
    assert type(loaded) is type(policy) and loaded.version == policy.version
    batch = inputs.retriever.search(queries, 30, policy.fusion_weights(queries))
    np.testing.assert_array_equal(loaded.scores(batch), policy.scores(batch))


def test_lambdamart_beats_the_default_order_on_held_out_clicks(saved):
    metrics = saved["lambdamart"].metrics
    assert metrics["held_out_pages"] > 50
    assert metrics["lambdamart_ndcg@10"] > metrics["default_ndcg@10"]


def test_examination_propensities_fall_with_rank(inputs):
    e = examination_propensities(inputs.simulator, 10)
    assert e[0] == 1.0 and np.all(np.diff(e) < 0) and e[-1] > 0


def test_static_fusion_is_at_least_as_good_as_the_default_weights(saved, inputs, resolved):
    policy = saved["static-fusion"]
    assert isinstance(policy, StaticFusion)
    traffic, share = logged_traffic(inputs.pages)
    objective = FusionObjective(
        inputs.retriever.pool(traffic), share, inputs.simulator, {"purchases": 1.0}, 10
    )
    chosen = objective(policy.weights)
    default = objective(inputs.retriever.default_weights(1)[0].astype(np.float64))
    assert chosen >= default
    assert chosen == pytest.approx(policy.metrics["simulator_reward"])
    grid = simplex_grid(len(policy.modality_names), resolved.baselines.grid_step)
    assert chosen >= max(objective(w) for w in grid[::3])


def test_oracle_beats_the_default_order_on_the_hidden_truth(saved, inputs, queries, run):
    truth = HiddenTruth.load(run / "world" / "truth")
    ids = np.array([q.query_id for q in queries], dtype=object)
    purchases = {}
    for name in ("default-order", "oracle"):
        _, ranking = rank_candidates(saved[name], inputs.retriever, queries, 30)
        purchases[name] = truth.expected_page(ids, ranking[:, :10]).purchases.sum(axis=1).mean()
    assert purchases["oracle"] > 1.2 * purchases["default-order"]


def test_logging_policy_puts_logged_items_first_by_logged_position(saved, inputs, queries):
    policy = saved["logging"]
    assert isinstance(policy, LoggingPolicy)
    batch, _ = rank_candidates(policy, inputs.retriever, queries, 30)
    mrr = policy.logged_mrr(batch)
    order = np.argsort(-policy.scores(batch), axis=1, kind="stable")
    ranked_mrr = np.take_along_axis(mrr, order, axis=1)
    logged = ~np.isnan(ranked_mrr)
    assert logged[:, 0].mean() > 0.9
    # Logged items form a prefix, in decreasing mean reciprocal position.
    assert not np.any(~logged[:, :-1] & logged[:, 1:])
    filled = np.where(logged, ranked_mrr, -1.0)
    # (up to rounding: equal means can differ in the last bit)
    assert np.all(np.diff(filled, axis=1)[logged[:, 1:]] <= 1e-12)


def test_fit_without_a_simulator_says_what_to_run(tmp_path, tiny_world, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_world, tmp_path / "runs" / "bare" / "world")
    register_commands()
    result = CliRunner().invoke(app, ["baselines", "fit", "--name", "bare"])
    assert isinstance(result.exception, ValueError)
    assert "index build" in str(result.exception) or "sim fit" in str(result.exception)
