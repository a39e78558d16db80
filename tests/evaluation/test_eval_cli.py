"""``fusionrank ope`` and ``fusionrank power`` from the command line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fusionrank.cli import app, register_commands
from fusionrank.datasets import load_logs, logs_to_pages
from fusionrank.io import read_json


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    register_commands()
    return CliRunner()


def test_power_sessions_for_a_lift(runner):
    result = runner.invoke(app, ["power", "--baseline", "0.05", "--lift", "0.02"])
    assert result.exit_code == 0, result.output
    assert "745,644" in result.output  # see test_sample_size_golden_number


def test_power_needs_exactly_one_question(runner):
    result = runner.invoke(app, ["power", "--baseline", "0.05"])
    assert isinstance(result.exception, ValueError)
    assert "--lift" in str(result.exception) and "--sessions" in str(result.exception)


def test_ope_uniform_and_score_table_on_shopworld_logs(runner, tiny_world, tmp_path):
    logs = tiny_world / "data" / "logs.parquet"
    out = tmp_path / "uniform"
    result = runner.invoke(
        app,
        [
            "ope",
            "--logs",
            str(logs),
            "--policy",
            "uniform",
            "--out",
            str(out),
            "--set",
            "evaluation.n_bootstrap=200",
        ],
    )
    assert result.exit_code == 0, result.output
    saved = read_json(out / "estimates.json")
    assert [e["estimator"] for e in saved["estimates"]] == [
        "IPS",
        "SNIPS",
        "DM",
        "DR",
        "SNDR",
        "PBM-IPS",
    ]
    assert all(0 <= e["value"] <= 1 for e in saved["estimates"])
    assert (out / "report.html").is_file()
    # A score table that reproduces the most frequent logged order of each query.
    pages = logs_to_pages(load_logs(logs))
    shown = pages.item_index >= 0
    query = np.repeat(pages.query, pages.slate_size)[shown.ravel()]
    rank = np.tile(np.arange(pages.slate_size), len(pages))[shown.ravel()]
    frame = (
        pd.DataFrame(
            {
                "query_id": pages.query_ids[query],
                "item_id": pages.item_ids[pages.item_index[shown]],
                "score": -rank.astype(float),
            }
        )
        .groupby(["query_id", "item_id"], as_index=False)["score"]
        .max()
    )
    frame.to_parquet(tmp_path / "scores.parquet")
    out = tmp_path / "scores"
    result = runner.invoke(
        app,
        [
            "ope",
            "--logs",
            str(logs),
            "--policy",
            str(tmp_path / "scores.parquet"),
            "--out",
            str(out),
            "--set",
            "evaluation.n_bootstrap=200",
        ],
    )
    assert result.exit_code == 0, result.output
    assert read_json(out / "estimates.json")["policy"].endswith("scores.parquet")


@pytest.mark.parametrize(
    ("policy", "message"),
    [("greedy", "give 'uniform', a score table"), ("missing.parquet", "does not exist")],
)
def test_ope_bad_policy_is_a_clear_error(runner, tiny_world, tmp_path, policy, message):
    logs = tiny_world / "data" / "logs.parquet"
    result = runner.invoke(
        app, ["ope", "--logs", str(logs), "--policy", policy, "--out", str(tmp_path)]
    )
    assert isinstance(result.exception, ValueError)
    assert message in str(result.exception)


def test_ope_on_an_obd_file(runner, shared_data, tmp_path):
    csv = shared_data / "obd" / "bts" / "men" / "men.csv"
    result = runner.invoke(
        app,
        [
            "ope",
            "--logs",
            str(csv),
            "--policy",
            "uniform",
            "--out",
            str(tmp_path),
            "--set",
            "evaluation.n_bootstrap=200",
        ],
    )
    assert result.exit_code == 0, result.output
    values = {
        e["estimator"]: e["value"] for e in read_json(tmp_path / "estimates.json")["estimates"]
    }
    # IPS of the uniform policy: mean of click / (34 items * propensity) over the file.
    raw = pd.read_csv(csv, index_col=0)
    expected = (raw["click"] / (34 * raw["propensity_score"])).mean()
    assert values["IPS"] == pytest.approx(expected)


@pytest.mark.slow
def test_ope_of_saved_and_built_in_policies_of_a_run(runner, tiny_world, tiny_run, tmp_path):
    """A policy folder, the same policy by name, and a built-in rank each logged query
    through the run's retriever; the log is judged in the run's catalog."""
    logs = str(tiny_world / "data" / "logs.parquet")
    run = ["--name", tiny_run.name, "--set", f"runs_dir={tiny_run.parent}"]
    run += ["--set", "evaluation.n_bootstrap=100"]
    values = {}
    for label, policy in [
        ("folder", str(tiny_run / "policies" / "text-only")),
        ("name", "text-only"),
        ("oracle", "oracle"),
    ]:
        out = tmp_path / label
        args = ["ope", "--logs", logs, "--policy", policy, "--out", str(out), *run]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        estimates = read_json(out / "estimates.json")["estimates"]
        assert all(0 <= e["value"] <= 1 for e in estimates if e["estimator"] != "IPS")
        values[label] = {e["estimator"]: e["value"] for e in estimates}
    assert values["folder"] == values["name"]
    assert values["oracle"] != values["name"]
    # The oracle ranks by the hidden truth; the direct method should see it is better.
    assert values["oracle"]["DM"] > values["name"]["DM"]


def test_ope_of_a_saved_policy_needs_a_run_with_a_retriever(runner, tiny_world, tmp_path):
    logs = str(tiny_world / "data" / "logs.parquet")
    args = ["ope", "--logs", logs, "--policy", "default", "--out", str(tmp_path)]
    result = runner.invoke(app, [*args, "--set", f"runs_dir={tmp_path}", "--name", "empty"])
    assert isinstance(result.exception, ValueError)
    assert "index build --name empty" in str(result.exception)


def test_ope_of_a_saved_policy_on_obd_logs_is_a_clear_error(runner, shared_data, tmp_path):
    csv = str(shared_data / "obd" / "bts" / "men" / "men.csv")
    result = runner.invoke(
        app, ["ope", "--logs", csv, "--policy", "default", "--out", str(tmp_path)]
    )
    assert isinstance(result.exception, ValueError)
    assert "OBD logs have no catalog" in str(result.exception)
