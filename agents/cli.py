"""``fusionrank train``: train a PPO agent in the run's fitted simulator.

```
runs/<name>/policies/ppo-<env>/          the final policy (load_policy)
runs/<name>/tensorboard/ppo-<env>_<n>/   rollout/, train/, sim/, eval/ scalars
runs/<name>/checkpoints/ppo-<env>/       SB3 checkpoints every agents.checkpoint_every
```
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from fusionrank.cli import ConfigOption, NameOption, SeedOption, SetOption, console, run_config
from fusionrank.runs import RunFolder

EnvOption = Annotated[
    Literal["fusion", "rerank", "session"] | None,
    typer.Option("--env", help="Which env to train in (default: agents.env)."),
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
) -> None:
    """Train PPO in the fitted simulator; save the policy to runs/<name>/policies/."""
    from fusionrank.agents.train import load_run_envs, train_ppo
    from fusionrank.seeding import int_seed

    resolved = run_config(config, overrides, seed, name)
    run = RunFolder.for_config(resolved)
    kind = env or resolved.agents.env
    envs = load_run_envs(resolved, run, kind)
    run.save_config(resolved)
    result = train_ppo(
        envs,
        resolved.agents,
        int_seed(resolved.seed, "agent"),
        run.path / "policies" / f"ppo-{kind}",
        total_steps=steps,
        tensorboard=run.path / "tensorboard",
        checkpoints=run.path / "checkpoints" / f"ppo-{kind}",
    )
    final = result.history[-1]
    console.print(
        f"ppo-{kind}: {result.steps:,} steps in {result.seconds:.1f} s; held-out mean reward "
        f"{final['mean_reward']:.4f} vs default order {result.default_eval['mean_reward']:.4f}",
        highlight=False,
    )
    console.print(f"policy {result.policy.version}: {result.folder}")
