"""``fusionrank baselines fit``: fit and save the baseline policies of a run.

It reads the run's logs and catalog, its retriever (``fusionrank index build``) and its
fitted simulator (``fusionrank sim fit``), and writes ``runs/<name>/policies/`` (see
:mod:`fusionrank.agents.baselines.fitting`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from fusionrank.cli import ConfigOption, NameOption, SeedOption, SetOption, console, run_config
from fusionrank.config import RunConfig
from fusionrank.runs import RunFolder

if TYPE_CHECKING:
    from fusionrank.agents.baselines.fitting import FitInputs

baselines_app = typer.Typer(
    help="Baseline policies: default order, logging, static fusion, LambdaMART.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(baselines_app, name="baselines")


def load_inputs(config: RunConfig, run: RunFolder) -> FitInputs:
    """The run's pages, retriever and fitted simulator.

    Raises:
        ValueError: If the run has no logs, no retriever index or no fitted simulator;
            the message names the command that makes it.
    """
    from fusionrank.agents.baselines.fitting import FitInputs
    from fusionrank.io import read_json
    from fusionrank.retrieval.retriever import Retriever
    from fusionrank.simulator.cli import resolve_inputs, simulator_dir
    from fusionrank.simulator.data import load_fit_data, split_sessions
    from fusionrank.simulator.user_simulator import UserSimulator

    logs, catalog = resolve_inputs(config, run, None, None)
    pages, _ = load_fit_data(logs, catalog)
    retriever = Retriever.load(run.path / "retrieval", config.retrieval)
    fit_path = simulator_dir(run) / "fit.json"
    if not fit_path.is_file():
        raise ValueError(
            f"{fit_path} is missing: the baselines need the fitted simulator; run "
            f"`fusionrank sim fit --name {config.name}` first"
        )
    fitted = read_json(fit_path)
    if not str(fitted.get("featurizer", "")).startswith("the run's retriever"):
        raise ValueError(
            f"the simulator in {simulator_dir(run)} was fitted without the run's retriever "
            f"({fitted.get('featurizer')}); rerun `fusionrank sim fit --name {config.name}`"
            " after `fusionrank index build`"
        )
    simulator = UserSimulator.load(simulator_dir(run) / "model", retriever)
    split = split_sessions(pages, fitted["held_out_fraction"])
    return FitInputs(retriever, simulator, pages, split.train, split.held_out)


@baselines_app.command("fit")
def fit(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Fit and save the default, logging, static-fusion and LambdaMART policies."""
    from fusionrank.agents.baselines.fitting import POLICIES_DIR, fit_baselines, save_baselines
    from fusionrank.seeding import int_seed

    resolved = run_config(config, overrides, seed, name)
    run = RunFolder.for_config(resolved)
    started = time.perf_counter()
    inputs = load_inputs(resolved, run)
    loaded = time.perf_counter() - started
    fitted = fit_baselines(inputs, resolved.baselines, int_seed(resolved.seed, "agent"))
    summary = save_baselines(fitted, run.path)
    console.print(f"inputs loaded in {loaded:.1f} s")
    for policy_name, entry in summary.items():
        metrics = {k: v for k, v in entry["metrics"].items() if not isinstance(v, list)}
        console.print(
            f"{policy_name:>14}: fitted in {entry['fit_seconds']:.1f} s, version "
            f"{entry['version']}  {metrics}",
            highlight=False,
        )
    console.print(f"policies: {Path(run.path) / POLICIES_DIR}")
