"""Feature models: the boosted one learns what the logistic one cannot, both round-trip
through their saved state, and a simulator fitted with either saves and loads."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrank.simulator.feature_model import (
    BoostedFeatureModel,
    FeatureModel,
    feature_model_from_state,
    make_feature_model,
)


def _xor_data(n: int = 4000):
    rng = np.random.default_rng(0)
    x = rng.random((n, 2))
    # An interaction: high only when exactly one feature is high (no linear fit exists).
    p = np.where((x[:, 0] > 0.5) ^ (x[:, 1] > 0.5), 0.8, 0.1)
    return x, p, np.full(n, 5.0)


def test_boosted_model_learns_an_interaction_the_logistic_cannot() -> None:
    x, p, w = _xor_data()
    boosted = BoostedFeatureModel(n_estimators=60).fit(x, p, w)
    logistic = FeatureModel().fit(x, p, w)
    boosted_error = np.abs(boosted.predict(x) - p).mean()
    logistic_error = np.abs(logistic.predict(x) - p).mean()
    assert boosted_error < 0.05 < logistic_error
    assert np.all((boosted.predict(x) > 0) & (boosted.predict(x) < 1))


@pytest.mark.parametrize("kind", ["logistic", "lightgbm"])
def test_state_round_trips(kind: str) -> None:
    x, p, w = _xor_data(500)
    model = make_feature_model(kind, 1.0, 20).fit(x, p, w)
    restored = feature_model_from_state(model.state())
    assert type(restored) is type(model)
    np.testing.assert_allclose(restored.predict(x[:50]), model.predict(x[:50]), rtol=1e-12)
    assert restored.predict(x[:6].reshape(2, 3, 2)).shape == (2, 3)


def test_without_features_both_give_the_weighted_mean() -> None:
    targets, weights = np.array([0.2, 0.6]), np.array([3.0, 1.0])
    for kind in ("logistic", "lightgbm"):
        model = make_feature_model(kind, 1.0, 10).fit(np.zeros((2, 0)), targets, weights)
        assert model.predict(np.zeros((1, 0)))[0] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="unknown feature model"):
        make_feature_model("forest", 1.0, 10)
