"""``fusionrank envs check``: build a run's envs, run the Gymnasium and SB3 checkers on
each, and play a batch of steps with the default order."""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from fusionrank.envs.components import load_components
from fusionrank.envs.config import EnvConfig
from fusionrank.envs.factory import make_core
from fusionrank.envs.registration import ENV_IDS
from fusionrank.runs import RunFolder


def check_run_envs(run: RunFolder, config: EnvConfig, seed: int) -> dict[str, Any]:
    """Checker results and a batch of default-order steps per env kind."""
    components = load_components(run, config)
    summary: dict[str, Any] = {
        "queries": components.n_queries,
        "pool per query": components.pool.size,
        "modalities": list(components.pool.modality_names),
    }
    for kind, env_id in ENV_IDS.items():
        env = gym.make(env_id, components=components, config=config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gym_check_env(env.unwrapped)
            sb3_check_env(env.unwrapped, warn=False)
        core = make_core(components, config, kind, config.batch_size)
        core.seed(seed)
        core.reset()
        # Scores that keep the first-stage order; zero fusion logits (equal weights).
        actions = np.zeros((core.n, core.action_dim))
        if kind != "fusion":
            actions -= np.arange(core.action_dim)
        result = core.step(actions)
        summary[kind] = {
            "obs": core.obs_dim,
            "actions": core.action_dim,
            "mean reward": round(float(result.reward.mean()), 4),
        }
    return summary
