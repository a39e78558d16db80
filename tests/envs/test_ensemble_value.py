"""The simulator ensemble's spread and the pessimistic value: zero spread when every
member is fitted on the same logs, a spread on bootstrap resamples, and a value that is
monotone in k."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrank.envs import EnvComponents
from fusionrank.envs.value import SimulatorValue, pessimistic
from fusionrank.simulator.config import SimulatorConfig
from fusionrank.simulator.ensemble import SimulatorEnsemble, bootstrap_sessions, fit_ensemble
from fusionrank.types import LoggedPages
from tests.envs.conftest import ENV_CONFIG

FAST = SimulatorConfig(em_iterations=5, feature_rounds=1)


def _value(components: EnvComponents, ensemble: SimulatorEnsemble) -> SimulatorValue:
    ids = components.query_ids
    texts = np.array([q.text for q in components.pool.queries], dtype=object)
    return SimulatorValue.build(ensemble.members, ids, texts, ENV_CONFIG)


def _values(components: EnvComponents, ensemble: SimulatorEnsemble) -> np.ndarray:
    rows = np.arange(components.n_queries, dtype=np.int64)
    return _value(components, ensemble).values(rows, components.candidates.item_index)


def _spread(components: EnvComponents, ensemble: SimulatorEnsemble) -> np.ndarray:
    return _values(components, ensemble).std(axis=0)


@pytest.mark.slow
def test_spread_is_zero_on_the_same_data_and_positive_on_resamples(
    env_components: EnvComponents, env_pages: LoggedPages, tmp_path
) -> None:
    retriever = env_components.retriever
    same = fit_ensemble(env_pages, retriever, None, FAST, 3, seed=1, resample=False)
    values = _values(env_components, same)
    # Every member gives the very same values, so the spread is zero (to rounding of std).
    assert all(np.array_equal(values[0], v) for v in values[1:])
    assert np.all(values.std(axis=0) < 1e-15)
    resampled = fit_ensemble(env_pages, retriever, None, FAST, 3, seed=1)
    spread = _spread(env_components, resampled)
    assert spread.mean() > 0
    resampled.save(tmp_path / "ensemble")
    loaded = SimulatorEnsemble.load(tmp_path / "ensemble", retriever)
    np.testing.assert_allclose(_spread(env_components, loaded), spread, rtol=1e-9)


def test_bootstrap_keeps_whole_sessions(env_pages: LoggedPages) -> None:
    resampled = bootstrap_sessions(env_pages, np.random.default_rng(0))
    n_sessions = len(np.unique(env_pages.session))
    assert len(np.unique(resampled.session)) == n_sessions
    # Whole sessions: as many pages as the drawn sessions had, each session's pages
    # contiguous and in page order.
    sizes = np.bincount(env_pages.session)
    drawn = np.bincount(resampled.session)
    assert set(drawn.tolist()) <= set(sizes.tolist())
    assert np.all(np.diff(resampled.session) >= 0)


def test_pessimistic_value_is_monotone_in_k() -> None:
    values = np.random.default_rng(4).random((5, 200))
    previous = pessimistic(values, 0.0)
    np.testing.assert_allclose(previous, values.mean(axis=0))
    for k in (0.25, 0.5, 1.0, 2.0, 4.0):
        current = pessimistic(values, k)
        assert np.all(current <= previous + 1e-15)
        previous = current
    with pytest.raises(ValueError, match="pessimism k"):
        pessimistic(values, -1.0)
