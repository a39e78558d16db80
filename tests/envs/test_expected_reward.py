"""The expected-reward path is the exact mean of the sampled path (same rankings, same
simulator), and the envs give it as their reward when asked."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrank.envs import EnvComponents, make_vector_env
from fusionrank.envs.browse import browse, expected_browse
from tests.envs.conftest import ENV_CONFIG


def _rankings(components: EnvComponents, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(min(n_rows, components.n_queries), dtype=np.int64)
    return rows, components.candidates.item_index[rows]


def test_expected_browse_is_the_mean_of_sampled_browse(env_components: EnvComponents) -> None:
    rows, ranked = _rankings(env_components, 6)
    repeats = 30_000
    sampled = browse(
        env_components,
        np.repeat(rows, repeats),
        np.repeat(ranked, repeats, axis=0),
        np.random.default_rng(3),
    )
    simulator = env_components.simulator
    exact = expected_browse(simulator, env_components.sim_query[rows], ranked, ENV_CONFIG)
    for name in ("clicks", "purchases", "pages"):
        values = getattr(sampled, name).reshape(len(rows), repeats)
        mean, se = values.mean(axis=1), values.std(axis=1) / np.sqrt(repeats)
        # Within 4.5 standard errors (plus float slack) for every ranking and outcome.
        assert np.all(np.abs(mean - getattr(exact, name)) <= 4.5 * se + 1e-9), name
    assert np.all(exact.pages >= 1) and np.all(exact.pages <= ENV_CONFIG.max_pages)


@pytest.mark.parametrize("kind", ["fusion", "rerank"])
def test_expected_mode_rewards_are_deterministic(env_components: EnvComponents, kind) -> None:
    config = ENV_CONFIG.model_copy(update={"reward_mode": "expected"})
    rewards = []
    for seed in (1, 1, 2):
        env = make_vector_env(env_components, config, kind, num_envs=8)
        env.reset(seed=seed)
        actions = np.zeros((8, env.single_action_space.shape[0]), dtype=np.float32)
        rewards.append(env.step(actions)[1])
    np.testing.assert_array_equal(rewards[0], rewards[1])
    assert np.all(rewards[0] >= 0) and rewards[0].dtype == np.float64
    # The rewards are expectations, not 0/1 draws.
    assert np.any((rewards[0] > 0) & (rewards[0] < 1))
