"""The PPO stages of a run: train an agent in the run's fitted simulator and save it as a
policy under ``run.policies``, with TensorBoard curves and SB3 checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fusionrank.agents.config import AgentConfig
from fusionrank.envs.config import EnvConfig
from fusionrank.runs import RunFolder

if TYPE_CHECKING:
    from fusionrank.agents.train import AgentEnvs, TrainResult


def policy_name(kind: str) -> str:
    """The saved policy's name for an env kind, e.g. ``ppo-rerank``."""
    return f"ppo-{kind}"


def load_run_envs(
    run: RunFolder, envs: EnvConfig, agents: AgentConfig, kind: str, seed: int
) -> AgentEnvs:
    """Training and held-out envs of ``kind`` over the run's retriever, fitted simulator
    and logs.

    Raises:
        ValueError: If the run lacks a part; the message names the command that makes it.
    """
    from fusionrank.agents.train import agent_envs
    from fusionrank.envs.components import load_components
    from fusionrank.seeding import int_seed

    components = load_components(run, envs)
    return agent_envs(components, envs, kind, agents.n_envs, int_seed(seed, "env"))


def train_run_policy(
    run: RunFolder,
    agents: AgentConfig,
    envs: EnvConfig,
    seed: int,
    kind: str | None = None,
    steps: int | None = None,
) -> TrainResult:
    """Train PPO in the run's ``kind`` env (default ``agents.env``) for ``steps`` (default
    ``agents.total_steps[kind]``) and save ``policies/ppo-<kind>``."""
    from fusionrank.agents.train import train_ppo
    from fusionrank.seeding import int_seed

    kind = kind or agents.env
    name = policy_name(kind)
    return train_ppo(
        load_run_envs(run, envs, agents, kind, seed),
        agents,
        int_seed(seed, "agent"),
        run.policies.of(name),
        total_steps=steps,
        tensorboard=run.tensorboard,
        checkpoints=run.checkpoints(name),
    )


def policy_outputs(run: RunFolder, kind: str) -> list[Path]:
    return [run.policies.of(policy_name(kind))]
