"""stable-baselines3 trains on the batched env (a smoke test of the adapter)."""

from __future__ import annotations

import numpy as np
from stable_baselines3 import PPO

from fusionrank.envs import EnvComponents, make_env
from tests.envs.conftest import ENV_CONFIG


def test_ppo_learns_a_few_hundred_steps_on_the_batched_env(
    env_components: EnvComponents,
) -> None:
    env = make_env(env_components, ENV_CONFIG, "fusion", batch_size=16, seed=0)
    model = PPO("MlpPolicy", env, n_steps=16, batch_size=64, n_epochs=1, seed=0, device="cpu")
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    obs = env.reset()
    actions, _ = model.predict(obs, deterministic=True)
    again, _ = model.predict(obs, deterministic=True)
    np.testing.assert_array_equal(actions, again)
    assert actions.shape == (16, len(env_components.pool.modality_names))
