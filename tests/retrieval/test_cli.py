"""``index build``, ``search`` and ``retrieval eval`` end to end on a run folder, and bad
input (unknown index string, catalog missing a column) as clear errors that leave no
half-written index behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fusionrank.cli import app, register_commands
from fusionrank.datasets import DataValidationError
from fusionrank.io import read_json

from .conftest import TINY_CLIP

CLIP_SET = [
    "--set",
    f"retrieval.clip.steps={TINY_CLIP.steps}",
    "--set",
    f"retrieval.clip.warmup_steps={TINY_CLIP.warmup_steps}",
    "--set",
    "retrieval.threads=1",
]


@pytest.fixture(scope="module")
def run_dir(tiny_world: Path, retrieval_folder: Path, tiny_retriever, tmp_path_factory) -> Path:
    """A working folder with ``runs/tiny/world`` and the tiny CLIP and embedding cache."""
    root = tmp_path_factory.mktemp("cli")
    shutil.copytree(tiny_world, root / "runs" / "tiny" / "world")
    for part in ("clip", "cache"):
        shutil.copytree(retrieval_folder / part, root / "runs" / "tiny" / "retrieval" / part)
    return root


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    register_commands()
    return CliRunner()


@pytest.mark.slow
def test_build_search_eval(runner, run_dir, monkeypatch) -> None:
    monkeypatch.chdir(run_dir)
    built = runner.invoke(app, ["index", "build", "--name", "tiny", *CLIP_SET])
    assert built.exit_code == 0, built.output
    index = run_dir / "runs" / "tiny" / "retrieval" / "index"
    assert read_json(index / "manifest.json")["modalities"] == ["text", "image", "lexical"]
    found = runner.invoke(app, ["search", "red striped t-shirt", "--name", "tiny", "--k", "5"])
    assert found.exit_code == 0, found.output
    assert "lexical" in found.output and "fused" in found.output
    judged = runner.invoke(
        app, ["retrieval", "eval", "--name", "tiny", "--grid-step", "0.25", *CLIP_SET]
    )
    assert judged.exit_code == 0, judged.output
    table = pd.read_csv(index.parent / "metrics" / "eval.csv")
    every = table[table.intent == "all"].set_index("condition")["ndcg@10"]
    assert set(every.index) >= {"text only", "image only", "fixed fusion"}
    assert every["best weights per query"] >= every.drop("best weights per query").max()

    before = (index / "manifest.json").read_bytes()
    bad = runner.invoke(
        app,
        [
            "index",
            "build",
            "--name",
            "tiny",
            *CLIP_SET,
            "--set",
            "retrieval.text_index.factory=Flatt",
        ],
    )
    assert isinstance(bad.exception, ValueError)
    assert "retrieval.text_index.factory" in str(bad.exception)
    assert (index / "manifest.json").read_bytes() == before  # the old index is intact
    assert sorted(p.name for p in index.parent.iterdir()) == ["cache", "clip", "index", "metrics"]


def test_unknown_index_string_leaves_no_index(runner, run_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(run_dir)
    result = runner.invoke(
        app,
        [
            "index",
            "build",
            "--name",
            "tiny2",
            "--set",
            f"data.catalog={_catalog(run_dir)}",
            "--set",
            "retrieval.image=false",
            "--set",
            "retrieval.text_index.factory=IVFx,Flat",
        ],
    )
    assert isinstance(result.exception, ValueError), result.output
    assert "faiss cannot build index 'IVFx,Flat'" in str(result.exception)
    assert not (run_dir / "runs" / "tiny2" / "retrieval" / "index").exists()


def test_catalog_missing_a_column_is_a_clear_error(runner, run_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(run_dir)
    table = pd.read_parquet(_catalog(run_dir)).drop(columns=["title"])
    broken = run_dir / "runs" / "tiny" / "world" / "data" / "no_title.parquet"
    table.to_parquet(broken)
    result = runner.invoke(
        app, ["index", "build", "--name", "tiny3", "--set", f"data.catalog={broken}"]
    )
    assert isinstance(result.exception, DataValidationError)
    assert "title" in str(result.exception)
    assert not (run_dir / "runs" / "tiny3" / "retrieval" / "index").exists()


def test_search_without_an_index_says_how_to_build_one(runner, run_dir, monkeypatch) -> None:
    monkeypatch.chdir(run_dir)
    result = runner.invoke(app, ["search", "shoes", "--name", "nothing-here"])
    assert isinstance(result.exception, ValueError)
    assert "index build" in str(result.exception)


def test_empty_search_query_is_a_clear_error(runner, run_dir, monkeypatch) -> None:
    monkeypatch.chdir(run_dir)
    result = runner.invoke(app, ["search", "  ", "--name", "tiny"])
    assert isinstance(result.exception, ValueError)
    assert "query is empty" in str(result.exception)


def _catalog(run_dir: Path) -> Path:
    return run_dir / "runs" / "tiny" / "world" / "data" / "catalog.parquet"
