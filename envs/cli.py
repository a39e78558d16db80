"""``fusionrank envs check``: build a run's envs, run the Gymnasium and SB3 checkers on
each, and play a batch of episodes with the default order."""

from __future__ import annotations

import time
import warnings
from typing import Any

import typer

from fusionrank.cli import ConfigOption, NameOption, SeedOption, SetOption, run_config
from fusionrank.runs import RunFolder

envs_app = typer.Typer(help="The Gymnasium environments of a run.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(envs_app, name="envs")


@envs_app.command("check")
def check(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Check every env of the run (needs `index build` and `sim fit` first)."""
    from fusionrank.datasets.cli import print_summary

    resolved = run_config(config, overrides, seed, name)
    run = RunFolder.for_config(resolved)
    started = time.perf_counter()
    summary = check_run(run, resolved.envs, resolved.seed)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    print_summary(f"envs of {run.path}", summary)


def check_run(run: RunFolder, config: Any, seed: int) -> dict[str, Any]:
    """Checker results and a batch of default-order steps per env kind."""
    import gymnasium as gym
    import numpy as np
    from gymnasium.utils.env_checker import check_env as gym_check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    from fusionrank.envs.components import load_components
    from fusionrank.envs.factory import make_core
    from fusionrank.envs.registration import ENV_IDS

    components = load_components(run.path, config)
    summary: dict[str, Any] = {
        "queries": components.n_queries,
        "pool per query": components.pool.size,
        "modalities": list(components.pool.modality_names),
    }
    for kind, env_id in ENV_IDS.items():
        env = gym.make(env_id, components=components, config=config)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gym_check_env(env.unwrapped)
            sb3_check_env(env.unwrapped, warn=False)
        core = make_core(components, config, kind, config.batch_size)
        core.seed(seed)
        core.reset()
        # Scores that keep the first-stage order; zero fusion logits (equal weights).
        actions = np.zeros((core.n, core.action_dim))
        if kind != "fusion":
            actions -= np.arange(core.action_dim)
        result = core.step(actions)
        summary[kind] = {
            "obs": core.obs_dim,
            "actions": core.action_dim,
            "mean reward": round(float(result.reward.mean()), 4),
        }
    return summary
