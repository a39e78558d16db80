"""Registering the env ids with Gymnasium; imports nothing heavy, so that importing
:mod:`fusionrank.envs` (which the run config does) stays cheap."""

from __future__ import annotations

import gymnasium as gym

ENV_IDS: dict[str, str] = {
    "fusion": "fusionrank/Fusion-v0",
    "rerank": "fusionrank/Rerank-v0",
    "session": "fusionrank/Session-v0",
}
_CLASSES = {"fusion": "FusionEnv", "rerank": "RerankEnv", "session": "SessionEnv"}


def register() -> None:
    """Register the env ids (idempotent); each takes ``components=`` and ``config=``."""
    for kind, env_id in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point=f"fusionrank.envs.single:{_CLASSES[kind]}",
            vector_entry_point=f"fusionrank.envs.factory:vector_{kind}",
        )
