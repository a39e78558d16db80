"""``fusionrank sim fit`` and ``sim report`` end to end, and bad logs as clear errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fusionrank.cli import app, register_commands
from fusionrank.datasets import DataValidationError
from fusionrank.io import read_json
from fusionrank.simulator.data import load_fit_data


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    register_commands()
    return CliRunner()


def test_fit_then_report_on_a_run_folder(runner, tiny_world, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_world, tmp_path / "runs" / "tiny" / "world")
    fit = runner.invoke(
        app, ["sim", "fit", "--name", "tiny", "--set", "simulator.em_iterations=10"]
    )
    assert fit.exit_code == 0, fit.output
    assert "catalog featurizer" in fit.output
    folder = tmp_path / "runs" / "tiny" / "simulator"
    fitted = read_json(folder / "fit.json")
    assert fitted["click_model"] == "ubm" and fitted["held_out_pages"] > 0
    report = runner.invoke(
        app,
        ["sim", "report", "--name", "tiny", "--set", "simulator.report_models=[pbm,rank_ctr]"],
    )
    assert report.exit_code == 0, report.output
    assert "simulator: log-likelihood" in report.output
    figures = read_json(folder / "report" / "figures.json")
    assert set(figures["models"]) == {"simulator", "pbm", "rank_ctr"}
    assert (folder / "report" / "report.html").is_file()


def test_companions_fit_beside_the_simulator_and_a_refit_drops_what_is_off(
    runner, tiny_world, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_world, tmp_path / "runs" / "tiny" / "world")
    fast = ["--set", "simulator.em_iterations=5", "--set", "simulator.feature_rounds=1"]
    assert runner.invoke(app, ["sim", "fit", "--name", "tiny", *fast]).exit_code == 0
    members = ["--set", "simulator.ensemble_members=2"]
    fitted = runner.invoke(app, ["sim", "companions", "--name", "tiny", *fast, *members])
    assert fitted.exit_code == 0, fitted.output
    folder = tmp_path / "runs" / "tiny" / "simulator"
    assert (folder / "validation" / "simulator.json").is_file()
    assert read_json(folder / "ensemble" / "ensemble.json")["members"] == 2
    off = ["--set", "simulator.ensemble_members=0", "--set", "simulator.validation=false"]
    again = runner.invoke(app, ["sim", "companions", "--name", "tiny", *fast, *off])
    assert again.exit_code == 0, again.output
    assert not (folder / "validation").exists() and not (folder / "ensemble").exists()


def test_fit_without_logs_says_how_to_get_them(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["sim", "fit", "--name", "nothing"])
    assert isinstance(result.exception, ValueError)
    assert "fusionrank world generate --name nothing" in str(result.exception)


def test_report_before_fit_says_so(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["sim", "report", "--name", "nothing"])
    assert "run `fusionrank sim fit --name nothing`" in str(result.exception)


def _break(frame: pd.DataFrame, defect: str) -> pd.DataFrame:
    frame = frame.copy()
    if defect == "ragged":
        frame.at[3, "clicks"] = list(frame.at[3, "clicks"])[:-1]
    elif defect == "position":
        n = len(frame.at[2, "item_ids"])
        frame["positions"] = [list(range(1, len(items) + 1)) for items in frame["item_ids"]]
        frame.at[2, "positions"] = [0, *range(2, n + 1)]
    elif defect == "propensity":
        frame.at[1, "propensities"] = [-0.5, *list(frame.at[1, "propensities"])[1:]]
    elif defect == "unknown item":
        frame.at[4, "item_ids"] = ["NOPE", *list(frame.at[4, "item_ids"])[1:]]
    return frame


@pytest.mark.parametrize(
    ("defect", "message"),
    [
        ("ragged", r"row 3, column 'clicks': has 9 entries but item_ids has 10"),
        ("position", r"row 2, column 'positions'"),
        ("propensity", r"row 1, column 'propensities'"),
        ("unknown item", r"row 4, column 'item_ids': item 'NOPE' is not in the catalog"),
    ],
)
def test_bad_logs_name_the_row_column_and_fix(tiny_world, tmp_path, defect, message):
    data = Path(tiny_world) / "data"
    frame = pd.read_parquet(data / "logs.parquet")
    _break(frame, defect).to_parquet(tmp_path / "logs.parquet")
    with pytest.raises(DataValidationError, match=message) as info:
        load_fit_data(tmp_path / "logs.parquet", data / "catalog.parquet")
    assert "logs.parquet" in str(info.value) and re.search(r"; \w", str(info.value))
