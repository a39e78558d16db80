"""``fusionrank envs check``: build a run's envs, run the Gymnasium and SB3 checkers on
each, and play a batch of episodes with the default order."""

from __future__ import annotations

import time

import typer

from fusionrank.cli.console import print_summary
from fusionrank.cli.options import ConfigOption, NameOption, SeedOption, SetOption, resolve_run

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
    from fusionrank.envs.checks import check_run_envs

    resolved, run = resolve_run(config, overrides, seed, name, record_inputs=True)
    started = time.perf_counter()
    summary = check_run_envs(run, resolved.envs, resolved.seed)
    summary["seconds"] = round(time.perf_counter() - started, 2)
    print_summary(f"envs of {run.path}", summary)
