"""The transfer figures of compare.json: the predicted-vs-true lift with the ensemble's
spread, the best supervised ranker's choice and the Kendall tau."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrank.evaluation.ab import METRICS, SessionMetrics
from fusionrank.evaluation.stats import paired_lifts
from fusionrank.evaluation.transfer import best_supervised, kendall_tau, predicted_lifts


def _arm(purchases: np.ndarray) -> SessionMetrics:
    zeros = np.zeros_like(purchases)
    return SessionMetrics(
        **{m: (purchases if m == "purchases" else zeros) for m in METRICS}, pages=zeros + 1
    )


def _lift(a: np.ndarray, b: np.ndarray, seed: int = 0):
    return paired_lifts(
        a[None], b[None], ["purchases"], n_bootstrap=200, rng=np.random.default_rng(seed)
    )[0]


def test_predicted_interval_widens_with_the_ensemble_spread() -> None:
    rng = np.random.default_rng(1)
    base = rng.binomial(1, 0.2, 20_000).astype(float)
    policy = np.maximum(base, rng.binomial(1, 0.05, 20_000))
    simulated = {"p": _lift(base, policy)}
    true = {"p": _lift(base, np.maximum(base, rng.binomial(1, 0.1, 20_000)), 1)}
    narrow = predicted_lifts(simulated, true, None, "logging", 0.05)["p"]
    members = {"logging": np.array([0.20, 0.21, 0.19]), "p": np.array([0.26, 0.20, 0.23])}
    wide = predicted_lifts(simulated, true, members, "logging", 0.05)["p"]
    assert np.isnan(narrow.spread) and wide.spread > 0
    assert wide.predicted_ci[0] < narrow.predicted_ci[0] < narrow.predicted_ci[1]
    assert wide.predicted_ci[1] > narrow.predicted_ci[1]
    # The true lift (about +45 %) is far above the predicted +25 %: the error is negative.
    assert narrow.error < 0 and not narrow.covered
    # Member lifts: 0.26 / 0.20 - 1 = 0.3, 0.20 / 0.21 - 1, 0.23 / 0.19 - 1.
    assert wide.member_lifts[0] == pytest.approx(0.3)


def test_best_supervised_is_chosen_without_the_truth() -> None:
    labels = ["logging", "lambdamart", "lambdamart-position", "pg-rerank"]
    kinds = ["logging", "lambdamart", "lambdamart", "pg-rerank"]
    arms = [_arm(np.full(10, v)) for v in (0.1, 0.3, 0.2, 0.9)]
    assert best_supervised(labels, kinds, arms) == "lambdamart"
    validation = {"logging": 0.1, "lambdamart": 0.2, "lambdamart-position": 0.25, "pg-rerank": 1}
    assert best_supervised(labels, kinds, arms, validation) == "lambdamart-position"
    assert best_supervised(["logging"], ["logging"], arms[:1]) is None


def test_kendall_tau_counts_concordant_pairs() -> None:
    simulated = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}
    assert kendall_tau(simulated, {"a": 10, "b": 20, "c": 30, "d": 40}) == pytest.approx(1.0)
    # One swapped pair of six: (5 - 1) / 6.
    assert kendall_tau(simulated, {"a": 10, "b": 30, "c": 20, "d": 40}) == pytest.approx(4 / 6)
    assert np.isnan(kendall_tau({"a": 1.0}, {"a": 1.0}))


def test_held_out_disagreement_widens_the_interval() -> None:
    from fusionrank.evaluation.transfer import widen

    # sqrt(0.03² + (0.48 - 0.44)²) = 0.05
    assert widen(0.03, 0.48, 0.44) == pytest.approx(0.05)
    rng = np.random.default_rng(2)
    base = rng.binomial(1, 0.2, 5_000).astype(float)
    simulated = {"p": _lift(base, np.maximum(base, rng.binomial(1, 0.1, 5_000)))}
    held_out = {"logging": 0.2, "p": 0.2}  # the held-out simulator sees no lift at all
    plain = predicted_lifts(simulated, None, None, "logging", 0.05)["p"]
    wide = predicted_lifts(simulated, None, None, "logging", 0.05, held_out)["p"]
    assert wide.held_out == 0.0 and np.isnan(plain.held_out)
    assert wide.predicted_ci[0] <= 0.0 < plain.predicted_ci[0]
