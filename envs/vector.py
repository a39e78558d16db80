"""Batched envs: a Gymnasium ``VectorEnv`` and a stable-baselines3 ``VecEnv`` over a core.

Both step all B envs with one numpy call and reset ended envs in the same step
(Gymnasium's ``AutoresetMode.SAME_STEP``; SB3's convention, with the last observation in
``info["terminal_observation"]``). Infos carry the simulated outcomes of the step
(``sim/clicks``, ``sim/purchases``, ``sim/revenue``, ``sim/pages``) and, for envs whose
session ended, the session totals (``sim/purchases_per_session``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.vec_env import VecEnv

from fusionrank.envs.browse import OUTCOMES
from fusionrank.envs.core import Core, StepResult

STEP_KEYS = tuple(f"sim/{name}" for name in OUTCOMES)
SESSION_KEYS = tuple(f"sim/{name}_per_session" for name in OUTCOMES)


def spaces(core: Core) -> tuple[gym.spaces.Box, gym.spaces.Box]:
    """The single env's observation and action spaces (float32 boxes)."""
    observation = gym.spaces.Box(-np.inf, np.inf, (core.obs_dim,), np.float32)
    action = gym.spaces.Box(-1.0, 1.0, (core.action_dim,), np.float32)
    return observation, action


def info_rows(result: StepResult) -> list[dict[str, Any]]:
    """One info dict per env (SB3's format), built from lists for speed."""
    c, p, r, g = (result.outcomes.as_dict()[n].tolist() for n in OUTCOMES)
    sc, sp, sr, sg = (result.session.as_dict()[n].tolist() for n in OUTCOMES)
    k0, k1, k2, k3 = STEP_KEYS
    s0, s1, s2, s3 = SESSION_KEYS
    final = result.final_obs
    return [
        {
            k0: c[i],
            k1: p[i],
            k2: r[i],
            k3: g[i],
            s0: sc[i],
            s1: sp[i],
            s2: sr[i],
            s3: sg[i],
            "terminal_observation": final[i],
            "TimeLimit.truncated": False,
        }
        if ended
        else {k0: c[i], k1: p[i], k2: r[i], k3: g[i]}
        for i, ended in enumerate(result.terminated.tolist())
    ]


class BatchedVectorEnv(VectorEnv):
    """A Gymnasium vector env of B copies of one env, stepped in numpy.

    Args:
        core: The batched core (its B is ``num_envs``).
    """

    metadata: dict[str, Any] = {"autoreset_mode": AutoresetMode.SAME_STEP}  # noqa: RUF012

    def __init__(self, core: Core) -> None:
        self.core = core
        self._np_random: np.random.Generator | None = None
        self.num_envs = core.n
        self.single_observation_space, self.single_action_space = spaces(core)
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, self.num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start new episodes in every env; ``seed`` (an int, or a list whose first entry
        is used) restarts the random stream."""
        if isinstance(seed, list):
            seed = seed[0]
        if seed is not None or self.core.rng is not self._np_random:
            super().reset(seed=seed)
            self.core.rng = self.np_random
        return self.core.reset().copy(), {}

    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        result = self.core.step(actions)
        infos: dict[str, Any] = {}
        everyone = np.ones(self.num_envs, dtype=bool)
        for key, name in zip(STEP_KEYS, OUTCOMES, strict=True):
            infos[key], infos[f"_{key}"] = getattr(result.outcomes, name), everyone
        for key, name in zip(SESSION_KEYS, OUTCOMES, strict=True):
            infos[key], infos[f"_{key}"] = getattr(result.session, name), result.terminated
        infos["final_obs"] = np.where(result.terminated[:, None], result.final_obs, 0.0)
        infos["_final_obs"] = result.terminated
        return (
            result.obs.copy(),
            result.reward,
            result.terminated,
            result.truncated,
            infos,
        )


class SB3VecEnv(VecEnv):
    """A stable-baselines3 ``VecEnv`` of B envs stepped in one numpy call.

    Args:
        core: The batched core (its B is ``num_envs``).
    """

    def __init__(self, core: Core) -> None:
        self.core = core
        self.render_mode = None
        observation, action = spaces(core)
        super().__init__(core.n, observation, action)
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        seed = self._seeds[0]
        if seed is not None:
            self.core.seed(seed)
        self._reset_seeds()
        self._reset_options()
        return self.core.reset().copy()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.float32).reshape(self.num_envs, -1)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        assert self._actions is not None, "step_async must come before step_wait"
        result = self.core.step(self._actions)
        self._actions = None
        dones = result.terminated | result.truncated
        return result.obs.copy(), result.reward.astype(np.float32), dones, info_rows(result)

    def close(self) -> None:
        return None

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any
    ) -> list[Any]:
        method = getattr(self, method_name)
        return [method(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]
