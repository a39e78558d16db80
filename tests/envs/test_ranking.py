"""Rankings: a permutation of the unmasked candidates, padding never above a real one,
stable ties; the session never shows a candidate twice; rewards and fusion weights."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrank.envs import EnvComponents, make_core
from fusionrank.envs.browse import PageOutcomes, page_items, rank_slots, ranked_items
from fusionrank.envs.components import Reformulations
from fusionrank.envs.config import EnvConfig, RewardMix
from fusionrank.envs.core import to_simplex
from fusionrank.types import PAD
from tests.envs.conftest import ENV_CONFIG


def _random_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(200, 12)).astype(np.float32)
    scores[rng.random(scores.shape) < 0.2] = np.nan
    scores[:, 3] = scores[:, 4]  # ties
    scores[rng.random(scores.shape) < 0.1] = -0.0
    mask = rng.random(scores.shape) < 0.7
    # Padding gets the best score of all: it must still never rank.
    scores = np.where(mask, scores, 100.0).astype(np.float32)
    return scores, mask


@pytest.mark.parametrize("seed", range(5))
def test_ranking_is_a_permutation_of_the_unmasked_candidates(seed: int) -> None:
    scores, mask = _random_case(seed)
    order = rank_slots(scores, mask)
    np.testing.assert_array_equal(np.sort(order, axis=1), np.broadcast_to(np.arange(12), (200, 12)))
    n_real = mask.sum(axis=1)
    real_first = np.take_along_axis(mask, order, axis=1)
    np.testing.assert_array_equal(real_first, np.arange(12) < n_real[:, None])
    # The same order as a stable sort by descending score with NaN last (float64 keys).
    # NaNs tie below every real score and above padding, in slot order.
    key = np.where(np.isnan(scores), 1e300, -scores.astype(np.float64)) + 0.0
    expected = np.argsort(np.where(mask, key, np.inf), axis=1, kind="stable")
    np.testing.assert_array_equal(order, expected)


def test_ranked_items_put_padding_last() -> None:
    items = np.array([[10, 11, 12, PAD], [20, 21, PAD, PAD]], dtype=np.int64)
    mask = items >= 0
    scores = np.array([[0.1, 0.9, 0.5, 9.0], [0.0, 0.0, 5.0, 5.0]], dtype=np.float32)
    ranked = ranked_items(items, mask, rank_slots(scores, mask))
    # Row 0: 0.9 > 0.5 > 0.1; row 1 ties keep the first-stage order.
    np.testing.assert_array_equal(ranked, [[11, 12, 10, PAD], [20, 21, PAD, PAD]])
    np.testing.assert_array_equal(page_items(ranked, np.array([1, 0]), 2), [[10, PAD], [20, 21]])


def test_rerank_env_shows_only_real_candidates_in_score_order(
    env_components: EnvComponents,
) -> None:
    core = make_core(env_components, ENV_CONFIG, "rerank", 32)
    core.seed(0)
    core.reset()
    actions = np.random.default_rng(1).uniform(-1, 1, (32, core.action_dim))
    ranked = core.ranking(actions)
    cands = env_components.candidates
    for row, items in zip(core.rows, ranked, strict=True):
        real = cands.item_index[row][cands.mask[row]]
        shown = items[items >= 0]
        assert sorted(shown.tolist()) == sorted(real.tolist())
        assert np.all(items[len(shown) :] == PAD)


def test_session_never_shows_a_candidate_twice(env_components: EnvComponents) -> None:
    config = ENV_CONFIG.model_copy(update={"max_pages": 4, "max_reformulations": 0})
    core = make_core(env_components, config, "session", 64)
    core.seed(2)
    obs = core.reset()
    layout = core.layout
    for _ in range(6):
        _, mask_before, _ = layout.split(obs)
        rows, page = core.rows.copy(), core.page.copy()
        result = core.step(np.zeros((64, core.action_dim)))
        _, mask_after, _ = layout.split(result.final_obs)
        going_on = ~result.terminated
        # A page hides the slate it showed: L fewer available candidates (or all left).
        shown = mask_before.sum(1) - mask_after.sum(1)
        expected = np.minimum(mask_before.sum(1), config.slate_size)
        np.testing.assert_array_equal(shown[going_on], expected[going_on])
        assert np.all(mask_after <= mask_before)
        np.testing.assert_array_equal(core.rows[going_on], rows[going_on])
        np.testing.assert_array_equal(core.page[going_on], page[going_on] + 1)
        obs = result.obs


def test_reward_of_the_mix() -> None:
    outcomes = PageOutcomes(
        clicks=np.array([2.0, 0.0]),
        purchases=np.array([1.0, 0.0]),
        revenue=np.array([30.0, 0.0]),
        pages=np.array([1.0, 3.0]),
    )
    mix = EnvConfig(reward="mix", mix=RewardMix(purchases=1.0, revenue=0.01, clicks=0.1))
    # 1 * 1 + 0.01 * 30 + 0.1 * 2 = 1.5
    np.testing.assert_allclose(outcomes.reward(mix.reward_weights()), [1.5, 0.0])
    np.testing.assert_allclose(
        outcomes.reward(EnvConfig(reward="revenue").reward_weights()), [30, 0]
    )


def test_fusion_actions_map_onto_the_simplex() -> None:
    actions = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.0], [5.0, 5.0, -9.0]])
    weights = to_simplex(actions, scale=3.0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0)
    np.testing.assert_allclose(weights[0], [1 / 3] * 3)
    # softmax(3, -3, 0) = e^3 / (e^3 + e^-3 + 1)
    np.testing.assert_allclose(weights[1, 0], np.e**3 / (np.e**3 + np.e**-3 + 1))
    np.testing.assert_allclose(weights[2], weights[1][[0, 0, 1]] / weights[1][[0, 0, 1]].sum())


def test_reformulations_draw_logged_hops() -> None:
    table = Reformulations(
        start=np.array([0, 2, 2]), count=np.array([2, 0, 1]), targets=np.array([1, 2, 0])
    )
    rows = np.array([0] * 500 + [1, 2])
    drawn = table.draw(rows, np.random.default_rng(0))
    assert set(drawn[:500].tolist()) == {1, 2}
    assert drawn[500] == 1  # no logged hop: the user retypes the same query
    assert drawn[501] == 0


def test_fusion_env_ranks_as_the_live_retriever(env_components: EnvComponents) -> None:
    """The precomputed pool answers as a fresh faiss search with the same weights."""
    core = make_core(env_components, ENV_CONFIG, "fusion", 6)
    core.seed(4)
    core.reset()
    actions = np.random.default_rng(3).uniform(-1, 1, (6, core.action_dim))
    ranked = core.ranking(actions)
    queries = [env_components.pool.queries[r] for r in core.rows]
    live = env_components.retriever.search(
        queries, ranked.shape[1], to_simplex(actions, ENV_CONFIG.fusion_scale)
    )
    np.testing.assert_array_equal(ranked, live.item_index)


def test_mean_reward_matches_the_simulators_expectation(env_components: EnvComponents) -> None:
    """One page, reward = clicks: the mean over many sessions is the simulator's expected
    clicks on those pages, within 4 standard errors."""
    config = ENV_CONFIG.model_copy(update={"max_pages": 1, "reward": "clicks"})
    core = make_core(env_components, config, "rerank", 4000)
    core.seed(8)
    core.reset()
    rows = core.rows.copy()
    actions = -np.arange(config.k, dtype=np.float64)[None, :].repeat(4000, 0)  # default order
    result = core.step(actions)
    items = env_components.candidates.item_index[rows][:, : config.slate_size]
    expected = env_components.simulator.expected_page(env_components.query_ids[rows], items)
    mean = expected.clicks.sum(axis=1).mean()
    error = result.reward.std() / np.sqrt(len(rows))
    assert abs(result.reward.mean() - mean) < 4 * error + 1e-9
    assert np.all(result.outcomes.pages == 1)
