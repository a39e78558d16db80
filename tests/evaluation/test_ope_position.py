"""Off-policy estimates without propensities: the position-based estimator by hand, its
recovery of a known value, harvested examination, and ``fusionrank ope`` on such logs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fusionrank.evaluation.ope.examination import click_model_examination
from fusionrank.evaluation.ope.harvest import NotHarvestable, harvest_examination
from fusionrank.evaluation.ope.position import (
    Impressions,
    fixed,
    harvested,
    pbm_estimate,
    position_estimates,
)
from fusionrank.evaluation.ope.targets import ranking_target
from fusionrank.simulator.click_models import PBM
from fusionrank.types import LoggedPages


def impressions(query, ranked, clicks, n_items) -> Impressions:
    """One row per (page, slot) of rankings (G, K) and their clicks (G, K)."""
    rows, cols = np.nonzero(np.ones(ranked.shape, dtype=bool))
    return Impressions(
        reward=clicks[rows, cols].astype(np.float64),
        query=np.asarray(query, dtype=np.int64)[rows],
        action=ranked[rows, cols].astype(np.int64),
        position=cols.astype(np.int64),
        group=rows.astype(np.int64),
        n_actions=n_items,
        n_positions=ranked.shape[1],
        n_queries=int(np.max(query)) + 1,
    )


def test_golden_value_by_hand() -> None:
    # One query, items a=0 and b=1. Page 0 shows [a, b] with a clicked; page 1 shows
    # [a, b] with b clicked. theta = [1, 1/2]:
    #   alpha_a = (1/1 + 0/1) / 2 = 0.5;  alpha_b = (0/0.5 + 1/0.5) / 2 = 1.0.
    # The target shows [b, a] on both pages: D_b = 1 + 1 = 2 (slot 0), D_a = 0.5 + 0.5 = 1.
    #   V = (2 * 1.0 + 1 * 0.5) / 4 rows = 0.625.
    log = impressions([0, 0], np.array([[0, 1], [0, 1]]), np.array([[1, 0], [0, 1]]), 2)
    target = ranking_target(log, np.array([[1, 0], [1, 0]]), "swap")
    estimate = pbm_estimate(
        log, target, fixed(np.array([1.0, 0.5])), "PBM", "pbm", n_bootstrap=0,
        rng=np.random.default_rng(0),
    )  # fmt: skip
    assert estimate.value == pytest.approx(0.625)
    assert estimate.coverage == pytest.approx(1.0)
    # A target that puts a never-logged item c=2 at slot 0: that slot counts 0, and
    # coverage = D_a / (D_c + D_a) = 1 / (2 + 1).  V = 1 * 0.5 / 4 = 0.125.
    unseen = ranking_target(log, np.array([[2, 0], [2, 0]]), "new item")
    estimate = pbm_estimate(
        log, unseen, fixed(np.array([1.0, 0.5])), "PBM", "pbm", n_bootstrap=0,
        rng=np.random.default_rng(0),
    )  # fmt: skip
    assert estimate.value == pytest.approx(0.125)
    assert estimate.coverage == pytest.approx(1 / 3)
    assert "33% of the target's examination" in estimate.assumption


def synthetic_pbm(seed: int, n_pages: int = 4000, stochastic: bool = True):
    """Logs from a PBM with theta_k = 1 / (k + 1) over 5 slots and known alpha; the logger
    ranks by noisy alpha (each page anew when ``stochastic``, else once per query)."""
    rng = np.random.default_rng(seed)
    n_queries, n_items, k = 20, 15, 5
    theta = 1 / (np.arange(k) + 1.0)
    alpha = rng.uniform(0.05, 0.8, (n_queries, n_items))
    query = rng.integers(0, n_queries, n_pages)
    noise = rng.gumbel(size=(n_pages if stochastic else n_queries, n_items))
    noise = noise if stochastic else noise[query]
    ranked = np.argsort(-(np.log(alpha[query]) + noise), axis=1)[:, :k]
    clicks = rng.random((n_pages, k)) < theta * alpha[query[:, None], ranked]
    return query, ranked, clicks, theta, alpha


def test_recovers_a_known_value_with_either_examination() -> None:
    query, ranked, clicks, theta, alpha = synthetic_pbm(seed=1)
    log = impressions(query, ranked, clicks, alpha.shape[1])
    best = np.argsort(-alpha, axis=1)[:, : ranked.shape[1]]
    target = ranking_target(log, best[query], "best")
    truth = float((theta * alpha[query[:, None], best[query]]).mean())
    for examination in (fixed(theta), harvested):
        estimate = pbm_estimate(
            log, target, examination, "PBM", "pbm", n_bootstrap=200,
            rng=np.random.default_rng(2),
        )  # fmt: skip
        assert estimate.value == pytest.approx(truth, rel=0.06)
        assert estimate.ci[0] <= truth <= estimate.ci[1]
        assert estimate.coverage == pytest.approx(1.0)


def test_harvesting_recovers_examination_and_refuses_fixed_rankings() -> None:
    query, ranked, clicks, theta, alpha = synthetic_pbm(seed=3)
    pairs, pair = np.unique(query[:, None] * 100 + ranked, return_inverse=True)
    slot = np.broadcast_to(np.arange(ranked.shape[1]), ranked.shape)
    shown = np.zeros((len(pairs), ranked.shape[1]))
    clicked = np.zeros_like(shown)
    np.add.at(shown, (pair.ravel(), slot.ravel()), 1.0)
    np.add.at(clicked, (pair.ravel(), slot.ravel()), clicks.ravel())
    np.testing.assert_allclose(harvest_examination(shown, clicked).theta, theta, rtol=0.08)

    query, ranked, clicks, _, alpha = synthetic_pbm(seed=3, stochastic=False)
    log = impressions(query, ranked, clicks, alpha.shape[1])
    target = ranking_target(log, ranked[:, ::-1], "reversed")
    with pytest.raises(NotHarvestable, match=r"position\(s\) \[2, 3, 4, 5\] are not linked"):
        pbm_estimate(log, target, harvested, "x", "y", n_bootstrap=0, rng=np.random.default_rng())
    estimates, skipped = position_estimates(
        log, target, theta, "test model", n_bootstrap=0, rng=np.random.default_rng(0)
    )
    assert [e.estimator for e in estimates] == ["PBM-IPS (click model θ)"]
    assert (
        "same item shown for the same query at different positions"
        in skipped["PBM-IPS (harvested θ)"]
    )


def to_pages(query, ranked, clicks) -> LoggedPages:
    n, k = ranked.shape
    return LoggedPages(
        session=np.arange(n, dtype=np.int64),
        query=query.astype(np.int64),
        page=np.zeros(n, np.int64),
        item_index=ranked.astype(np.int64),
        clicks=clicks.astype(bool),
        purchases=np.zeros((n, k), bool),
        propensities=np.full((n, k), np.nan),
        timestamp=np.arange(n, dtype=np.float64),
        query_ids=np.array([f"q{i}" for i in range(int(query.max()) + 1)], dtype=object),
        query_texts=np.array([f"query {i}" for i in range(int(query.max()) + 1)], dtype=object),
        item_ids=np.array([f"i{i}" for i in range(int(ranked.max()) + 1)], dtype=object),
        policy=np.full(n, "test", dtype=object),
        has_purchases=False,
        has_propensities=False,
    )


def test_a_fitted_pbm_gives_the_examination_of_its_slots() -> None:
    query, ranked, clicks, theta, _ = synthetic_pbm(seed=4)
    pages = to_pages(query, ranked, clicks)
    estimated = click_model_examination(PBM(n_iterations=100).fit(pages), pages)
    np.testing.assert_allclose(estimated, theta, rtol=0.1)


def test_cli_ope_on_logs_without_propensities(tmp_path: Path) -> None:
    from fusionrank.cli import app, register_commands

    query, ranked, clicks, _, _ = synthetic_pbm(seed=5, n_pages=1500)
    frame = pd.DataFrame(
        {
            "session_id": np.arange(len(query)).astype(str),
            "query_id": [f"q{q}" for q in query],
            "query_text": [f"query {q}" for q in query],
            "timestamp": np.arange(len(query), dtype=np.float64),
            "item_ids": [[f"i{i}" for i in row] for row in ranked],
            "clicks": [row.tolist() for row in clicks],
        }
    )
    logs = tmp_path / "logs.parquet"
    frame.to_parquet(logs)
    register_commands()
    out = tmp_path / "ope"
    result = CliRunner().invoke(
        app,
        ["ope", "--logs", str(logs), "--policy", "uniform", "--out", str(out),
         "--set", f"runs_dir={tmp_path / 'runs'}", "--set", "evaluation.n_bootstrap=100"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())  # the console wraps long lines
    assert "no propensities; position-based estimators only" in output
    assert "assumes clicks follow the position-based model" in output
    saved = json.loads((out / "estimates.json").read_text())
    names = [e["estimator"] for e in saved["estimates"]]
    assert names == ["PBM-IPS (click model θ)", "PBM-IPS (harvested θ)"]
    for e in saved["estimates"]:
        assert e["ci"][0] <= e["value"] <= e["ci"][1]
        assert "position-based model" in e["assumption"] and e["coverage"] == 1.0
    assert "a PBM fitted to these logs" in saved["estimates"][0]["assumption"]
    assert saved["not_estimated"] == {}
