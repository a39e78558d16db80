"""fusionrank.envs: Gymnasium environments over the retriever and the fitted simulator.

Importing the package registers ``fusionrank/Fusion-v0``, ``fusionrank/Rerank-v0`` and
``fusionrank/Session-v0``; make them with ``gymnasium.make(id, components=...)`` (a run
folder or prepared :class:`EnvComponents`) or, batched, with :func:`make_env` (SB3) and
:func:`make_vector_env` (Gymnasium).

The names below are imported on first use, so that loading the run configuration (which
imports :mod:`fusionrank.envs.config`) does not pull in torch, faiss or stable-baselines3.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fusionrank.envs.registration import ENV_IDS, register

if TYPE_CHECKING:
    from fusionrank.envs.components import EnvComponents, load_components
    from fusionrank.envs.config import EnvConfig, RewardMix
    from fusionrank.envs.core import to_simplex
    from fusionrank.envs.factory import make_core, make_env, make_gym_env, make_vector_env
    from fusionrank.envs.layout import RerankLayout

_EXPORTS = {
    "EnvComponents": "fusionrank.envs.components",
    "load_components": "fusionrank.envs.components",
    "EnvConfig": "fusionrank.envs.config",
    "RewardMix": "fusionrank.envs.config",
    "to_simplex": "fusionrank.envs.core",
    "make_core": "fusionrank.envs.factory",
    "make_env": "fusionrank.envs.factory",
    "make_gym_env": "fusionrank.envs.factory",
    "make_vector_env": "fusionrank.envs.factory",
    "RerankLayout": "fusionrank.envs.layout",
}

__all__ = [
    "ENV_IDS",
    "EnvComponents",
    "EnvConfig",
    "RerankLayout",
    "RewardMix",
    "load_components",
    "make_core",
    "make_env",
    "make_gym_env",
    "make_vector_env",
    "register",
    "to_simplex",
]

register()


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fusionrank.envs' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
