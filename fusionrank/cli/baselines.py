"""``fusionrank baselines fit``: fit and save the baseline policies of a run.

It reads the run's logs and catalog, its retriever (``fusionrank index build``) and its
fitted simulator (``fusionrank sim fit``), and writes the run's ``policies/`` (see
:mod:`fusionrank.agents.baselines.stages`).
"""

from __future__ import annotations

import typer

from fusionrank.cli.console import console
from fusionrank.cli.options import ConfigOption, NameOption, SeedOption, SetOption, resolve_run

baselines_app = typer.Typer(
    help="Baseline policies: default order, logging, static fusion, LambdaMART.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(baselines_app, name="baselines")


@baselines_app.command("fit")
def fit(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
) -> None:
    """Fit and save the default, logging, static-fusion and LambdaMART policies."""
    from fusionrank.agents.baselines.stages import fit_run_baselines

    resolved, run = resolve_run(config, overrides, seed, name, record_inputs=True)
    result = fit_run_baselines(run, resolved.baselines, resolved.retrieval, resolved.seed)
    console.print(f"inputs loaded in {result.load_seconds:.1f} s")
    for policy_name, entry in result.policies.items():
        metrics = {k: v for k, v in entry["metrics"].items() if not isinstance(v, list)}
        console.print(
            f"{policy_name:>14}: fitted in {entry['fit_seconds']:.1f} s, version "
            f"{entry['version']}  {metrics}",
            highlight=False,
        )
    console.print(f"policies: {result.folder}")
