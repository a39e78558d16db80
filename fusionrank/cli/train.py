"""``fusionrank train``: train a policy in the run's fitted simulator.

``--agent ppo`` (default) writes the run's ``policies/ppo-<env>/`` (the final policy),
``tensorboard/ppo-<env>_<n>/`` (rollout/, train/, sim/, eval/ scalars) and
``checkpoints/ppo-<env>/`` (SB3 checkpoints every ``agents.checkpoint_every``).
``--agent pg-joint`` learns per-query fusion weights and re-ranking together by
Plackett-Luce policy gradient with exact rewards (``agents.pgrank``) and writes
``policies/pg-joint/``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from fusionrank.cli.console import console
from fusionrank.cli.options import ConfigOption, NameOption, SeedOption, SetOption, resolve_run

EnvOption = Annotated[
    Literal["fusion", "rerank", "session"] | None,
    typer.Option("--env", help="Which env to train in (default: agents.env)."),
]
AgentOption = Annotated[
    Literal["ppo", "pg-joint"],
    typer.Option("--agent", help="ppo (in --env), or pg-joint (fusion and re-rank together)."),
]
StepsOption = Annotated[
    int | None,
    typer.Option("--steps", min=1, help="Env steps (default: agents.total_steps[env])."),
]


def register(app: typer.Typer) -> None:
    app.command("train")(train)


def train(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
    env: EnvOption = None,
    steps: StepsOption = None,
    agent: AgentOption = "ppo",
) -> None:
    """Train a policy in the fitted simulator; save it to runs/<name>/policies/."""
    from fusionrank.agents.stages import policy_name, train_run_joint, train_run_policy

    resolved, run = resolve_run(config, overrides, seed, name, record_inputs=True)
    if agent == "pg-joint":
        joint = train_run_joint(run, resolved.agents, resolved.envs, resolved.seed)
        run.save_config(resolved)
        console.print(
            f"{joint.policy.name}: simulator value {joint.result.start_value:.4f} (default "
            f"order) -> {joint.result.kept_value:.4f} in {joint.result.seconds:.1f} s",
            highlight=False,
        )
        console.print(f"policy {joint.policy.version}: {joint.folder}")
        return
    kind = env or resolved.agents.env
    result = train_run_policy(run, resolved.agents, resolved.envs, resolved.seed, kind, steps)
    run.save_config(resolved)
    final = result.history[-1]
    console.print(
        f"{policy_name(kind)}: {result.steps:,} steps in {result.seconds:.1f} s; held-out mean "
        f"reward {final['mean_reward']:.4f} vs default order "
        f"{result.default_eval['mean_reward']:.4f}",
        highlight=False,
    )
    console.print(f"policy {result.policy.version}: {result.folder}")
