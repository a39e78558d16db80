"""The single (B = 1) Gymnasium envs, registered as ``fusionrank/Fusion-v0``,
``fusionrank/Rerank-v0`` and ``fusionrank/Session-v0``.

Each wraps a batched core of one env, so the single and batched forms share every line
of logic; the batched forms are :class:`fusionrank.envs.vector.BatchedVectorEnv` and
:class:`fusionrank.envs.vector.SB3VecEnv`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from fusionrank.envs.components import EnvComponents
from fusionrank.envs.config import EnvConfig
from fusionrank.envs.core import Core, FusionCore, RerankCore
from fusionrank.envs.session import SessionCore
from fusionrank.envs.vector import info_rows, spaces

Source = EnvComponents | str | Path


class _SingleEnv(gym.Env[np.ndarray, np.ndarray]):
    """A Gymnasium env over a batched core of one env."""

    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012
    core_class: ClassVar[type[Core]]

    def __init__(self, components: Source, config: EnvConfig | None = None) -> None:
        from fusionrank.envs.factory import resolve_components

        self.components = resolve_components(components, config)
        self.core = self.core_class(self.components, 1)
        self.observation_space, self.action_space = spaces(self.core)
        self._obs: np.ndarray | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.core.rng = self.np_random
        self._obs = self.core.reset()[0].copy()
        return self._obs, {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._obs is None:
            raise RuntimeError("call reset() before step()")
        result = self.core.step(np.asarray(action, dtype=np.float32).reshape(1, -1))
        info = info_rows(result)[0]
        info.pop("terminal_observation", None)
        info.pop("TimeLimit.truncated", None)
        terminated = bool(result.terminated[0])
        self._obs = (result.final_obs if terminated else result.obs)[0].copy()
        return self._obs, float(result.reward[0]), terminated, False, info


class FusionEnv(_SingleEnv):
    """Per-query modality fusion weights: a contextual bandit.

    ## Observation
    ``Box(-inf, inf, (Dq,), float32)``: the query features of ``Retriever.query_features``
    (the reduced text embedding, per-modality top score, top z-score and z gap, the
    overlap of every two modalities' top results, log word count, known-word share).

    ## Action
    ``Box(-1, 1, (M,), float32)``, one entry per modality (``Retriever.modality_names``);
    the fusion weights are ``softmax(fusion_scale * action)`` (``to_simplex``), so the
    zero action weighs every modality equally.

    ## Reward
    The configured outcome (``envs.reward``: purchases, revenue, clicks or the ``mix``)
    of the fitted simulator's user browsing the fused top-K, ``slate_size`` results a
    page, for up to ``max_pages`` pages.

    ## Episode end
    After the one step (the query is answered); never truncated.

    ## Arguments
    ``components``: prepared :class:`EnvComponents` or a run folder (``runs/<name>``);
    ``config``: the :class:`EnvConfig` (default: the defaults).
    """

    core_class = FusionCore


class RerankEnv(_SingleEnv):
    """Re-ranking the default-fused top-K: a contextual bandit with a slate.

    ## Observation
    ``Box(-inf, inf, (K*F + K + Dq,), float32)``, laid out as
    :class:`fusionrank.envs.layout.RerankLayout` says: the candidates' pair features
    (``Retriever.feature_names``, the last the fused score), the mask (1 real, 0 padding)
    and the query features.

    ## Action
    ``Box(-1, 1, (K,), float32)``: a score per candidate slot. The ranking sorts the real
    candidates by descending score (ties: first-stage order); padding is never shown.

    ## Reward
    As in :class:`FusionEnv`, position-aware through the simulator's click model.

    ## Episode end
    After the one step; never truncated.

    ## Arguments
    As in :class:`FusionEnv`.
    """

    core_class = RerankCore


class SessionEnv(_SingleEnv):
    """A whole search session: the agent ranks every result page.

    ## Observation
    As in :class:`RerankEnv` with two session values appended to the query features:
    ``page / max_pages`` and ``reformulations / (max_reformulations + 1)``. Candidates
    already shown for this query are masked out.

    ## Action
    ``Box(-1, 1, (K,), float32)``: a score per slot; the page shows the ``slate_size``
    best-scored candidates not shown yet.

    ## Reward
    The configured outcome of this page.

    ## Episode end
    When the user stops (buys or is satisfied) or leaves; after a page without a stop
    they open the next page (at most ``max_pages`` per query) or reword the query (a
    reformulation seen in the logs; at most ``max_reformulations``), following the
    fitted session model. Never truncated.

    ## Arguments
    As in :class:`FusionEnv`.
    """

    core_class = SessionCore
