"""Policies as A/B arms on a tiny run (retriever, fitted simulator, saved baselines):
rankings looked up per session, policy names, ``compare_policies``, and the ``ab`` and
``evaluate`` commands."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from fusionrank.evaluation.ab import SessionSettings
from fusionrank.evaluation.config import EvaluationConfig
from fusionrank.evaluation.policies import RankingTable
from fusionrank.io import read_json
from fusionrank.types import PAD

FAST = EvaluationConfig(n_bootstrap=200, batch_size=2000)


def test_ranking_table_looks_rankings_up_in_any_order():
    ids = np.array(["q0", "q1", "q2"], dtype=object)
    ranked = np.array([[3, 1, PAD], [0, 2, 4], [5, PAD, PAD]], dtype=np.int64)
    table = RankingTable(ids, ranked, "t")
    out = table(np.array(["q2", "q0", "q2"], dtype=object))
    np.testing.assert_array_equal(out, ranked[[2, 0, 2]])
    assert out.dtype == np.int64
    with pytest.raises(ValueError, match="no ranking for query id"):
        table(np.array(["q9"], dtype=object))
    with pytest.raises(ValueError, match="distinct"):
        RankingTable(ids[[0, 0, 1]], ranked, "t")
    with pytest.raises(ValueError, match="int64"):
        RankingTable(ids, ranked.astype(np.float64), "t")


@pytest.fixture(scope="module")
def worlds(tiny_run):
    from fusionrank.evaluation.context import load_run_worlds

    return load_run_worlds(tiny_run, SessionSettings.from_config(FAST))


@pytest.mark.slow
def test_policy_rankings_are_rank_candidates_of_each_query(tiny_run, worlds):
    from fusionrank.agents.policy import load_policy
    from fusionrank.agents.scoring import rank_candidates
    from fusionrank.evaluation.policies import policy_ranker

    depth = 30
    rankers = {}
    for name in ("default-order", "text-only"):
        policy = load_policy(tiny_run / "policies" / name)
        rankers[name] = policy_ranker(policy, worlds.retriever, worlds.queries, depth, 7)
        some = list(worlds.queries[:5])
        _, direct = rank_candidates(policy, worlds.retriever, some, depth)
        ids = np.array([q.query_id for q in some], dtype=object)
        np.testing.assert_array_equal(rankers[name](ids), direct)
    ids = np.array([q.query_id for q in worlds.queries], dtype=object)
    assert not np.array_equal(rankers["default-order"](ids), rankers["text-only"](ids))
    # Every query the traffic can produce (first queries and rewordings) is ranked.
    rewordings = worlds.reformulate(worlds.sampler.query_ids)
    assert rankers["text-only"](rewordings).shape == (len(rewordings), depth)


@pytest.mark.slow
def test_policy_names_resolve_and_unknown_names_list_the_choices(tiny_run, worlds):
    from fusionrank.evaluation.policies import resolve_policy

    def resolve(spec):
        return resolve_policy(spec, tiny_run, worlds.retriever, worlds.pages)

    assert resolve(tiny_run / "policies" / "text-only").kind == "static-fusion"
    assert resolve("text-only").kind == "static-fusion"
    assert resolve("default").kind == "default-order"
    assert resolve("oracle").kind == "oracle-shopworld"
    with pytest.raises(ValueError, match=r"text-only.*default, logging, oracle"):
        resolve("ppo-nonexistent")


@pytest.mark.slow
def test_compare_policies_on_common_traffic(tiny_run, tmp_path):
    from fusionrank.evaluation.compare import compare_policies
    from fusionrank.evaluation.context import SIMULATOR, TRUTH

    specs = ["default-order", "default", "text-only"]
    result = compare_policies(tiny_run, specs, 2000, 5, config=FAST, out=tmp_path)
    assert result.policies == ("logging", "default-order", "default", "text-only", "oracle")
    assert (result.baseline, result.oracle) == ("logging", "oracle")
    assert set(result.metrics) == {SIMULATOR, TRUTH}
    for world in result.metrics:
        # The same policy twice: same traffic, same draws, identical sessions.
        same = result.arm(world, "default-order"), result.arm(world, "default")
        np.testing.assert_array_equal(same[0].purchases, same[1].purchases)
        assert result.gap_closed[world]["logging"]["purchases"] == 0
        assert result.gap_closed[world]["oracle"]["purchases"] == pytest.approx(1.0)
    # On the hidden users the oracle beats the logging policy, significantly.
    for metric in ("purchases", "ndcg"):
        lift = result.lift(TRUTH, "oracle", metric)
        assert lift.significant and lift.ci_bootstrap[0] > 0, metric
    mean, low, high = result.mean_ci(TRUTH, "oracle", "purchases")
    assert low < mean < high
    saved = read_json(tmp_path / "compare.json")
    assert saved["baseline"] == "logging" and len(saved["rows"]) == 2 * 5
    html = (tmp_path / "compare.html").read_text()
    assert "data:image/png;base64," in html and "gap closed" in html


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    from fusionrank.cli import register_commands

    register_commands()
    return CliRunner()


def _options(tiny_run) -> list[str]:
    return [
        "--name",
        tiny_run.name,
        "--set",
        f"runs_dir={tiny_run.parent}",
        "--set",
        "evaluation.n_bootstrap=200",
        "--sessions",
        "1000",
    ]


@pytest.mark.slow
def test_ab_and_evaluate_commands(runner, tiny_run):
    from fusionrank.cli import app

    args = ["ab", "--a", "logging", "--b", "oracle", *_options(tiny_run)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    folder = tiny_run / "evaluation" / "ab-logging-vs-oracle"
    figures = read_json(folder / "figures.json")
    worlds = {row[0] for row in figures["tables"]["ab_lifts"]["rows"]}
    assert worlds == {"fitted simulator", "hidden truth"}
    assert {"interleaving_fitted_simulator", "interleaving_hidden_truth"} <= set(figures["tables"])
    assert "interleaving: win rate of B" in result.output
    bad = runner.invoke(app, ["ab", "--a", "logging", "--b", "nope", *_options(tiny_run)])
    assert isinstance(bad.exception, ValueError) and "'nope'" in str(bad.exception)

    result = runner.invoke(app, ["evaluate", "--no-truth", *_options(tiny_run)])
    assert result.exit_code == 0, result.output
    saved = read_json(tiny_run / "evaluation" / "compare.json")
    assert {row["world"] for row in saved["rows"]} == {"fitted simulator"}
    assert saved["policies"] == ["default-order", "logging", "text-only", "oracle"]
