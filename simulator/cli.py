"""``fusionrank sim fit`` and ``fusionrank sim report``.

```
runs/<name>/simulator/model/        the fitted UserSimulator (UserSimulator.load)
runs/<name>/simulator/fit.json      inputs, split, featurizer, fitted session rates
runs/<name>/simulator/report/       figures.json, PNG plots, report.html
```
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from fusionrank.cli import ConfigOption, NameOption, SeedOption, SetOption, console, run_config
from fusionrank.config import RunConfig
from fusionrank.io import read_json, write_json
from fusionrank.runs import RunFolder

sim_app = typer.Typer(help="Fit the user simulator from logs and judge it.", no_args_is_help=True)

LogsOption = Annotated[
    Path | None, typer.Option(help="Log file (.parquet); default: the run's ShopWorld logs.")
]
CatalogOption = Annotated[
    Path | None, typer.Option(help="Catalog file; default: the run's ShopWorld catalog.")
]


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")


def simulator_dir(run: RunFolder) -> Path:
    return run.path / "simulator"


def resolve_inputs(
    config: RunConfig, run: RunFolder, logs: Path | None, catalog: Path | None
) -> tuple[Path, Path]:
    """The log and catalog files: the options, else the config's data, else the run's world.

    Raises:
        ValueError: If a file does not exist; the message says how to provide it.
    """
    logs = logs or config.data.logs or run.data_dir / "logs.parquet"
    catalog = catalog or config.data.catalog or run.data_dir / "catalog.parquet"
    for what, path in (("logs", logs), ("catalog", catalog)):
        if not Path(path).is_file():
            raise ValueError(
                f"{what} file {path} does not exist; pass --{what} FILE, or generate the"
                f" run's world first (fusionrank world generate --name {config.name})"
            )
    return Path(logs), Path(catalog)


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
    from fusionrank.datasets.cli import print_summary
    from fusionrank.simulator.data import (
        catalog_prices,
        load_fit_data,
        run_featurizer,
        split_sessions,
    )
    from fusionrank.simulator.fitting import fit_simulator

    resolved = run_config(config, overrides, seed, name)
    run = RunFolder.for_config(resolved)
    logs, catalog = resolve_inputs(resolved, run, logs, catalog)
    started = time.perf_counter()
    pages, loaded = load_fit_data(logs, catalog)
    split = split_sessions(pages, resolved.simulator.held_out_fraction)
    featurizer, which = run_featurizer(run.path, loaded)
    console.print(f"pair features: {which}")
    simulator = fit_simulator(split.train, featurizer, catalog_prices(loaded), resolved.simulator)
    run.save_config(resolved)
    simulator.save(simulator_dir(run) / "model")
    summary = {
        "logs": str(logs),
        "catalog": str(catalog),
        "featurizer": which,
        "click_model": simulator.click_model.name,
        "train_pages": len(split.train),
        "held_out_pages": len(split.held_out),
        "held_out_fraction": split.fraction,
        "pairs": len(simulator.click_model.table),
        "session": simulator.session.to_dict(),
        "seconds": round(time.perf_counter() - started, 2),
    }
    write_json(simulator_dir(run) / "fit.json", summary)
    print_summary(f"user simulator in {simulator_dir(run) / 'model'}", summary)


@sim_app.command("report")
def report(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Judge the fitted simulator on the held-out logs: HTML, PNG plots and JSON."""
    from fusionrank.seeding import rng
    from fusionrank.simulator.data import load_fit_data, run_featurizer, split_sessions
    from fusionrank.simulator.fidelity import fidelity_figures
    from fusionrank.simulator.report import write_report
    from fusionrank.simulator.user_simulator import UserSimulator

    resolved = run_config(config, overrides, seed, name)
    run = RunFolder.for_config(resolved)
    fit_path = simulator_dir(run) / "fit.json"
    if not fit_path.is_file():
        raise ValueError(f"{fit_path} is missing; run `fusionrank sim fit --name {run.path.name}`")
    fitted = read_json(fit_path)
    pages, loaded = load_fit_data(Path(fitted["logs"]), Path(fitted["catalog"]))
    split = split_sessions(pages, fitted["held_out_fraction"])
    if len(split.held_out) == 0:
        raise ValueError(
            "the simulator was fitted on every session (held_out_fraction=0); refit with"
            " --set simulator.held_out_fraction=0.25 to keep sessions for the report"
        )
    featurizer, _ = run_featurizer(run.path, loaded)
    simulator = UserSimulator.load(simulator_dir(run) / "model", featurizer)
    settings = resolved.simulator
    figures = fidelity_figures(
        split.train,
        split.held_out,
        simulator,
        rng(resolved.seed, "simulator"),
        model_names=settings.report_models,
        repeats=settings.report_repeats,
    )
    path = write_report(figures, simulator_dir(run) / "report")
    models = figures["models"]
    for key in sorted(models, key=lambda k: -models[k]["log_likelihood"]):
        console.print(
            f"{key:>11}: log-likelihood {models[key]['log_likelihood']:.4f}"
            f"  perplexity {models[key]['perplexity']:.4f}"
        )
    console.print(f"report: {path}")
