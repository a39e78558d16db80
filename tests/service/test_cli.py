"""``fusionrank export`` end to end, and ``fusionrank serve`` refusing a missing run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from fusionrank.agents.policy import load_policy
from fusionrank.cli import app, register_commands
from fusionrank.service.export import OnnxScorer, onnx_session, sample_inputs


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    register_commands()
    return CliRunner()


def test_export_writes_a_checked_onnx_file(
    runner: CliRunner, service_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "scorer.onnx"
    result = runner.invoke(
        app, ["export", "--run", str(service_run), "--policy", "ppo-rerank", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "max |onnx - torch|" in result.output
    policy = load_policy(service_run / "policies" / "ppo-rerank")
    features, mask, qf = sample_inputs(policy, 2, 9, np.random.default_rng(5))
    scores = OnnxScorer(onnx_session(out), policy.query_feature_dim)(features, mask, qf)
    assert scores.shape == (2, 9) and np.all(np.isneginf(scores) == ~mask)


def test_export_refuses_a_non_neural_policy(runner: CliRunner, service_run: Path) -> None:
    result = runner.invoke(app, ["export", "--run", str(service_run), "--policy", "lambdamart"])
    assert isinstance(result.exception, ValueError)
    assert "no scoring network" in str(result.exception)


def test_serve_refuses_a_missing_run(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--run", str(tmp_path / "nope")])
    assert isinstance(result.exception, ValueError)
    assert "does not exist" in str(result.exception)
