"""``fusionrank sim fit`` and ``fusionrank sim report``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusionrank.cli.console import console, print_summary
from fusionrank.cli.options import ConfigOption, NameOption, SeedOption, SetOption, resolve_run

sim_app = typer.Typer(help="Fit the user simulator from logs and judge it.", no_args_is_help=True)

LogsOption = Annotated[
    Path | None, typer.Option(help="Log file (.parquet); default: the run's inputs.")
]
CatalogOption = Annotated[
    Path | None, typer.Option(help="Catalog file; default: the run's inputs.")
]


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")


@sim_app.command("fit")
def fit(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
    logs: LogsOption = None,
    catalog: CatalogOption = None,
) -> None:
    """Fit the user simulator (click, purchase and session models) and save it."""
    from fusionrank.cli.inputs import record_run_inputs
    from fusionrank.simulator.stages import fit_run_simulator

    resolved, run = resolve_run(config, overrides, seed, name)
    record_run_inputs(run, resolved, catalog=catalog, logs=logs)
    run.save_config(resolved)
    result = fit_run_simulator(run, resolved.simulator)
    console.print(f"pair features: {result.featurizer}")
    print_summary(f"user simulator in {result.model}", result.summary())


@sim_app.command("report")
def report(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Judge the fitted simulator on the held-out logs: HTML, PNG plots and JSON."""
    from fusionrank.simulator.stages import report_run_simulator

    resolved, run = resolve_run(config, overrides, seed, name)
    result = report_run_simulator(run, resolved.simulator, resolved.seed)
    for model, log_likelihood, perplexity in result.ranked():
        console.print(
            f"{model:>11}: log-likelihood {log_likelihood:.4f}  perplexity {perplexity:.4f}"
        )
    console.print(f"report: {result.path}")


@sim_app.command("companions")
def companions(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Fit a simulator on the held-out logs and a bootstrap ensemble beside the fitted one."""
    from fusionrank.simulator.stages import fit_run_companions

    resolved, run = resolve_run(config, overrides, seed, name)
    result = fit_run_companions(run, resolved.simulator, resolved.seed)
    print_summary(f"simulator companions in {run.simulator.path}", result.summary())
