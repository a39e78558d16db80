"""The Gymnasium, vector and SB3 forms of every env: the checkers, determinism, spaces
and infos."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from fusionrank.envs import ENV_IDS, EnvComponents, make_env, make_gym_env, make_vector_env
from fusionrank.envs.layout import RerankLayout
from tests.envs.conftest import ENV_CONFIG

KINDS = ("fusion", "rerank", "session")


@pytest.mark.parametrize("kind", KINDS)
def test_checkers_pass(env_components: EnvComponents, kind: str) -> None:
    env = gym.make(ENV_IDS[kind], components=env_components, config=ENV_CONFIG)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*infinity.*")  # unbounded features
        gym_check_env(env.unwrapped)
        sb3_check_env(env.unwrapped, warn=False)


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_actions_same_trajectory(env_components: EnvComponents, kind: str) -> None:
    """Two envs, same seed and actions: identical observations, rewards, infos (50 steps)."""
    envs = [make_gym_env(env_components, ENV_CONFIG, kind) for _ in range(2)]
    actions = np.random.default_rng(5).uniform(-1, 1, (50, envs[0].action_space.shape[0]))
    runs = []
    for env in envs:
        obs, _ = env.reset(seed=42)
        trace = [obs]
        for action in actions.astype(np.float32):
            obs, reward, terminated, truncated, info = env.step(action)
            trace += [obs, reward, terminated, truncated, sorted(info.items())]
            if terminated or truncated:
                obs, _ = env.reset()
                trace.append(obs)
        runs.append(trace)
    assert len(runs[0]) == len(runs[1])
    for a, b in zip(*runs, strict=True):
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b)
        else:
            assert a == b
    other = make_gym_env(env_components, ENV_CONFIG, kind)
    other.reset(seed=43)
    seen = [other.step(action)[0] for action in actions.astype(np.float32)[:10]]
    first = [x for x in runs[0] if isinstance(x, np.ndarray)][1:11]
    assert not all(np.array_equal(a, b) for a, b in zip(seen, first, strict=True))


@pytest.mark.parametrize("kind", KINDS)
def test_vector_env_is_seeded_and_batched(env_components: EnvComponents, kind: str) -> None:
    env = make_vector_env(env_components, ENV_CONFIG, kind, num_envs=6)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (6, *env.single_observation_space.shape)
    assert obs.dtype == np.float32
    again = make_vector_env(env_components, ENV_CONFIG, kind, num_envs=6)
    np.testing.assert_array_equal(again.reset(seed=3)[0], obs)
    actions = np.random.default_rng(0).uniform(-1, 1, (6, env.single_action_space.shape[0]))
    step_a = env.step(actions.astype(np.float32))
    step_b = again.step(actions.astype(np.float32))
    np.testing.assert_array_equal(step_a[0], step_b[0])
    np.testing.assert_array_equal(step_a[1], step_b[1])
    info = step_a[4]
    assert info["sim/pages"].shape == (6,)
    assert np.all(info["sim/pages"] >= 1)
    ended = step_a[2]
    np.testing.assert_array_equal(info["_sim/purchases_per_session"], ended)


def test_gymnasium_make_vec_uses_the_batched_env(env_components: EnvComponents) -> None:
    env = gym.make_vec(
        ENV_IDS["rerank"],
        num_envs=4,
        vectorization_mode="vector_entry_point",
        components=env_components,
        config=ENV_CONFIG,
    )
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, env.single_observation_space.shape[0])


@pytest.mark.parametrize("kind", KINDS)
def test_sb3_vec_env_infos(env_components: EnvComponents, kind: str) -> None:
    env = make_env(env_components, ENV_CONFIG, kind, batch_size=16, seed=9)
    obs = env.reset()
    assert obs.shape == (16, env.observation_space.shape[0])
    seen_end = False
    for _ in range(10):
        obs, rewards, dones, infos = env.step(np.zeros((16, env.action_space.shape[0])))
        assert rewards.shape == (16,) and len(infos) == 16
        for done, info in zip(dones, infos, strict=True):
            assert "sim/purchases" in info and "sim/clicks" in info and "sim/revenue" in info
            assert ("sim/purchases_per_session" in info) == bool(done)
            if done:
                seen_end = True
                assert info["terminal_observation"].shape == obs.shape[1:]
    assert seen_end
    env.seed(9)
    np.testing.assert_array_equal(
        env.reset(), make_env(env_components, ENV_CONFIG, kind, 16, 9).reset()
    )


def test_observation_layout_matches_the_components(env_components: EnvComponents) -> None:
    env = make_vector_env(env_components, ENV_CONFIG, "rerank", num_envs=5)
    obs, _ = env.reset(seed=1)
    cands = env_components.candidates
    layout = RerankLayout(cands.k, len(cands.feature_names), env_components.query_features.shape[1])
    assert layout.size == obs.shape[1]
    features, mask, query = layout.split(obs)
    rows = env.core.rows
    np.testing.assert_array_equal(features, cands.features[rows])
    np.testing.assert_array_equal(mask, cands.mask[rows])
    np.testing.assert_array_equal(query, env_components.query_features[rows])
    np.testing.assert_array_equal(layout.join(features, mask, query), obs)
    torch = pytest.importorskip("torch")
    t_features, t_mask, _ = layout.split(torch.from_numpy(obs))
    np.testing.assert_array_equal(t_features.numpy(), features)
    assert t_mask.dtype == torch.bool
