"""The learning stages of a run: train an agent in the run's fitted simulator and save it
as a policy under ``run.policies``: PPO (with TensorBoard curves and SB3 checkpoints) and
the joint fusion + re-rank Plackett-Luce policy gradient (``pg-joint``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from fusionrank.agents.config import AgentConfig
from fusionrank.envs.config import EnvConfig
from fusionrank.runs import RunFolder

if TYPE_CHECKING:
    from fusionrank.agents.pgrank_train import PGTrained
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


JOINT_POLICY = "pg-joint"


def pg_env_config(envs: EnvConfig) -> EnvConfig:
    """The env settings PG-Rank trains under: exact (expected) rewards, and as many
    candidates as the pages a user may open show (``slate_size * max_pages``), the
    depth at which evaluation ranks."""
    k = envs.slate_size * envs.max_pages
    return envs.model_copy(update={"k": k, "reward_mode": "expected"})


def train_run_joint(
    run: RunFolder, agents: AgentConfig, envs: EnvConfig, seed: int, name: str = JOINT_POLICY
) -> PGTrained:
    """Train per-query fusion weights and re-ranking jointly by Plackett-Luce policy
    gradient with exact rewards in the run's fitted simulator
    (:func:`~fusionrank.agents.pgrank_train.train_joint_policy`) and save
    ``policies/pg-joint``.

    Raises:
        ValueError: If the run lacks a part; the message names the command that makes it.
    """
    from fusionrank.agents.pgrank_train import train_joint_policy
    from fusionrank.envs.components import load_components
    from fusionrank.seeding import int_seed

    settings = pg_env_config(envs)
    components = load_components(run, settings)
    folder = run.policies.of(name)
    return train_joint_policy(
        components, settings, agents, int_seed(seed, "agent"), folder, None, name
    )
