"""Making envs from a run folder or from prepared components, and registration."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

import gymnasium as gym

from fusionrank.envs.components import EnvComponents, load_components
from fusionrank.envs.config import EnvConfig, EnvKind
from fusionrank.envs.core import Core, FusionCore, RerankCore
from fusionrank.envs.registration import ENV_IDS
from fusionrank.envs.session import SessionCore
from fusionrank.envs.vector import BatchedVectorEnv, SB3VecEnv
from fusionrank.runs import RunFolder

CORES: dict[str, type[Core]] = {"fusion": FusionCore, "rerank": RerankCore, "session": SessionCore}
BUILD_FIELDS = ("k", "k_per_modality")
"""Config fields the prepared components depend on."""


def resolve_components(
    source: EnvComponents | RunFolder | str | Path, config: EnvConfig | None = None
) -> EnvComponents:
    """Prepared components for ``config``: loaded from a run folder (or its path), or the
    given ones.

    Raises:
        ValueError: If given components were built for another ``k`` or pool size.
    """
    if not isinstance(source, EnvComponents):
        return load_components(source, config or EnvConfig())
    if config is None:
        return source
    built = {f: getattr(source.config, f) for f in BUILD_FIELDS}
    wanted = {f: getattr(config, f) for f in BUILD_FIELDS}
    if built != wanted:
        raise ValueError(
            f"the env components were built for {built}, the config asks for {wanted}; "
            "build them again with EnvComponents.build(..., config)"
        )
    return replace(source, config=config)


def make_core(
    source: EnvComponents | str | Path, config: EnvConfig, kind: str, batch_size: int
) -> Core:
    """The batched core of ``kind`` over B = ``batch_size`` envs.

    Raises:
        ValueError: For an unknown kind or a batch size below 1.
    """
    if kind not in CORES:
        raise ValueError(f"unknown env kind {kind!r}; use one of {', '.join(CORES)}")
    return CORES[kind](resolve_components(source, config), batch_size)


def make_env(
    source: EnvComponents | str | Path,
    config: EnvConfig,
    kind: EnvKind,
    batch_size: int | None = None,
    seed: int | None = None,
) -> SB3VecEnv:
    """The stable-baselines3 ``VecEnv`` of ``kind``: B envs stepped in one numpy call.

    Args:
        source: Prepared :class:`EnvComponents` (fast) or a run folder (loads the
            retriever, simulator and logs: seconds).
        config: The env config.
        kind: ``fusion``, ``rerank`` or ``session``.
        batch_size: B (default ``config.batch_size``).
        seed: Seed of the env's random stream (applied at the next ``reset``).
    """
    env = SB3VecEnv(make_core(source, config, kind, batch_size or config.batch_size))
    if seed is not None:
        env.seed(seed)
    return env


def make_vector_env(
    source: EnvComponents | str | Path,
    config: EnvConfig | None = None,
    kind: EnvKind = "rerank",
    num_envs: int | None = None,
) -> BatchedVectorEnv:
    """The Gymnasium ``VectorEnv`` of ``kind`` (seed it with ``reset(seed=...)``)."""
    config = config or EnvConfig()
    return BatchedVectorEnv(make_core(source, config, kind, num_envs or config.batch_size))


def make_gym_env(
    source: EnvComponents | str | Path,
    config: EnvConfig | None = None,
    kind: EnvKind = "rerank",
) -> gym.Env:
    """The single Gymnasium env of ``kind`` (as ``gymnasium.make(ENV_IDS[kind], ...)``)."""
    if kind not in ENV_IDS:
        raise ValueError(f"unknown env kind {kind!r}; use one of {', '.join(ENV_IDS)}")
    return gym.make(ENV_IDS[kind], components=source, config=config)


def _vector_entry(kind: Literal["fusion", "rerank", "session"]):
    def entry(
        components: EnvComponents | str | Path,
        config: EnvConfig | None = None,
        num_envs: int = 1,
        **_: object,
    ) -> BatchedVectorEnv:
        return make_vector_env(components, config, kind, num_envs)

    return entry


vector_fusion = _vector_entry("fusion")
vector_rerank = _vector_entry("rerank")
vector_session = _vector_entry("session")
