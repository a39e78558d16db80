"""Logs that lack things real logs often lack: no reformulations, pages shorter than the
envs' slates. The simulator fits and replays them (these crashed the demo on own data)."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrank.simulator.click_models.pages import ExaminationPage, TruncatedPage
from fusionrank.simulator.config import SimulatorConfig
from fusionrank.simulator.fitting import fit_simulator
from fusionrank.simulator.rollout import _Groups, simulate_sessions
from fusionrank.types import PAD
from tests.simulator.conftest import build_pages, random_rankings


def test_groups_without_any_key_draw_nothing() -> None:
    groups = _Groups(np.empty(0, np.int64), np.empty(0, np.int64))
    drawn = groups.draw(np.array([0, 3, 7]), np.random.default_rng(0))
    assert drawn.tolist() == [-1, -1, -1] and drawn.dtype == np.int64


def test_truncated_page_is_the_inner_page_then_nothing() -> None:
    # PBM with examination [1, 1/2] on two ranks, attractiveness 0.6 and 0.4:
    # P(click) = [0.6, 0.2]; ranks 3 and 4 are never examined.
    gamma = np.repeat(np.array([1.0, 0.5])[:, None], 3, axis=1)
    inner = ExaminationPage(np.array([[0.6, 0.4]]), gamma)
    page = TruncatedPage(inner, width=2, n_ranks=4)
    np.testing.assert_allclose(page.click_probs(), [[0.6, 0.2, 0.0, 0.0]])
    clicks, purchases, stopped = page.expected(np.full((1, 4), 0.5))
    np.testing.assert_allclose(clicks, [[0.6, 0.2, 0.0, 0.0]])
    np.testing.assert_allclose(purchases, [[0.3, 0.1, 0.0, 0.0]])
    np.testing.assert_allclose(stopped, [1 - 0.7 * 0.9])
    many = TruncatedPage(
        ExaminationPage(np.tile([[0.6, 0.4]], (500, 1)), gamma), width=2, n_ranks=4
    )
    sample = many.sample(np.zeros((500, 4)), np.random.default_rng(1))
    assert sample.clicks.shape == (500, 4) and not sample.clicks[:, 2:].any()
    assert 0.5 < sample.clicks[:, 0].mean() < 0.7


@pytest.fixture(scope="module")
def short_logs():
    """Pages of 4 results, single-page sessions: nobody pages on or reformulates."""
    rng = np.random.default_rng(0)
    query, items = random_rankings(400, 3, 6, 4, rng)
    clicks = rng.random(items.shape) < 0.3 / (np.arange(4) + 1)
    return build_pages(query, items, clicks, purchases=clicks & (rng.random(items.shape) < 0.2))


@pytest.mark.parametrize("click_model", ["pbm", "ubm", "dbn", "dcm", "cascade"])
def test_a_simulator_fitted_on_short_pages_serves_longer_ones(short_logs, click_model) -> None:
    config = SimulatorConfig(click_model=click_model, em_iterations=5, feature_rounds=1)
    simulator = fit_simulator(short_logs, config=config)
    query = np.zeros(50, np.int64)
    items = np.tile(np.array([0, 1, 2, 3, 4, 5, PAD]), (50, 1))  # 7 slots, 6 items
    feedback, stopped = simulator.sample_page_index(query, items, np.random.default_rng(2))
    assert feedback.clicks.shape == (50, 7) and not feedback.clicks[:, 4:].any()
    assert stopped.shape == (50,)
    expected = simulator.expected_page(simulator.query_ids[query], items)
    assert expected.clicks.shape == (50, 7) and np.all(expected.clicks[:, 4:] == 0)
    short = simulator.expected_page(simulator.query_ids[query], items[:, :4])
    np.testing.assert_allclose(expected.clicks[:, :4], short.clicks)


def test_sessions_replay_without_any_reformulation(short_logs) -> None:
    simulator = fit_simulator(short_logs, config=SimulatorConfig(em_iterations=5))
    stats = simulate_sessions(simulator, short_logs, np.random.default_rng(3))
    assert stats.pages.shape == (len(short_logs),)
    assert not stats.reformulations.any() and (stats.pages == 1).all()
