"""Training callbacks: simulator metrics to TensorBoard, periodic held-out evaluation
against the default fused order, and a progress bar."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnv

logger = logging.getLogger(__name__)

Predict = Callable[[np.ndarray], np.ndarray]
_SKIP_INFO = {"terminal_observation", "episode", "TimeLimit.truncated"}


def info_means(infos: list[dict[str, Any]]) -> dict[str, float]:
    """Mean of every numeric info field over a step's envs (``sim/...`` keys as given,
    other keys under ``sim/``)."""
    sums: dict[str, list[float]] = defaultdict(list)
    for info in infos:
        for key, value in info.items():
            if key not in _SKIP_INFO and isinstance(value, int | float | np.number):
                sums[key if "/" in key else f"sim/{key}"].append(float(value))
    return {key: float(np.mean(values)) for key, values in sums.items()}


def run_episodes(predict: Predict, venv: VecEnv, n_episodes: int, seed: int) -> dict[str, float]:
    """Play whole episodes with ``predict`` on a freshly seeded ``venv``.

    Args:
        predict: obs float32 (n_envs, D) -> actions float32 (n_envs, A).
        venv: The env (not reward-normalised).
        n_episodes: Episodes to finish (at least).
        seed: Seed of the env, so two policies meet the same queries and users.

    Returns:
        ``mean_reward`` (per episode), ``episodes`` and the mean of every numeric info
        field per step.
    """
    venv.seed(seed)
    obs = np.asarray(venv.reset())
    running = np.zeros(venv.num_envs)
    finished: list[np.ndarray] = []
    n_done = 0
    fields: dict[str, list[float]] = defaultdict(list)
    while n_done < n_episodes:
        step_obs, rewards, dones, infos = venv.step(predict(obs))
        obs = np.asarray(step_obs)
        running += rewards
        finished.append(running[dones].copy())
        n_done += int(dones.sum())
        running[dones] = 0.0
        for key, value in info_means(list(infos)).items():
            fields[key].append(value)
    returns = np.concatenate(finished)
    out = {"mean_reward": float(returns.mean()), "episodes": float(returns.size)}
    out.update({key: float(np.mean(v)) for key, v in fields.items()})
    return out


class SimMetricsCallback(BaseCallback):
    """Log the envs' numeric info fields (``sim/purchases_per_session``, ...) per rollout."""

    def __init__(self) -> None:
        super().__init__()
        self._fields: dict[str, list[float]] = defaultdict(list)

    def _on_step(self) -> bool:
        for key, value in info_means(list(self.locals.get("infos", []))).items():
            self._fields[key].append(value)
        return True

    def _on_rollout_end(self) -> None:
        for key, values in self._fields.items():
            self.logger.record(key, float(np.mean(values)))
        self._fields.clear()


class EvalCallback(BaseCallback):
    """Every ``every`` env steps, evaluate the deterministic policy on a held-out env and
    log ``eval/...`` beside the default order's figures from the same seeded episodes.

    Args:
        venv: The held-out env.
        baseline: The default order's predict function.
        every: Env steps between evaluations.
        n_episodes: Episodes per evaluation.
        seed: The held-out env's seed (the same every time).
    """

    def __init__(
        self, venv: VecEnv, baseline: Predict, every: int, n_episodes: int, seed: int
    ) -> None:
        super().__init__()
        self.venv, self.every, self.n_episodes, self.seed = venv, every, n_episodes, seed
        self.baseline = run_episodes(baseline, venv, n_episodes, seed)
        self.history: list[dict[str, float]] = []
        self._last = 0

    def _predict(self, obs: np.ndarray) -> np.ndarray:
        actions, _ = self.model.predict(obs, deterministic=True)
        return actions

    def evaluate(self) -> dict[str, float]:
        result = run_episodes(self._predict, self.venv, self.n_episodes, self.seed)
        result["timesteps"] = float(self.num_timesteps)
        self.history.append(result)
        for key, value in result.items():
            name = key.split("/")[-1]
            self.logger.record(f"eval/{name}", value)
            if key in self.baseline:
                self.logger.record(f"eval_default/{name}", self.baseline[key])
        logger.info(
            "eval at %d steps: mean reward %.4f (default order %.4f)",
            self.num_timesteps,
            result["mean_reward"],
            self.baseline["mean_reward"],
        )
        return result

    def _on_step(self) -> bool:
        if self.num_timesteps - self._last >= self.every:
            self._last = self.num_timesteps
            self.evaluate()
        return True


class ProgressCallback(BaseCallback):
    """Advance a :mod:`fusionrank.progress` bar by the env steps taken."""

    def __init__(self, advance: Callable[[float], None]) -> None:
        super().__init__()
        self.advance = advance

    def _on_step(self) -> bool:
        self.advance(self.training_env.num_envs)
        return True
