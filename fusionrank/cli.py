"""The ``fusionrank`` command line: one entry point, one sub-command per job.

Each package adds its own commands (``fusionrank.datasets.cli`` brings ``world`` and
``data``). Library errors about user input are ``ValueError``s; they are shown as one
clear message and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from fusionrank import progress
from fusionrank.config import RunConfig, load_config

console = Console()
app = typer.Typer(
    help="Reinforcement-learning ranking for multimodal product search.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML config; defaults apply otherwise.")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a config field, e.g. world.n_items=1000."),
]
SeedOption = Annotated[int | None, typer.Option(help="Root seed (overrides the config's).")]
NameOption = Annotated[str | None, typer.Option(help="Run name: the folder under runs/.")]


def run_config(
    config: Path | None,
    overrides: list[str] | None,
    seed: int | None = None,
    name: str | None = None,
) -> RunConfig:
    """Load the config with the command line's overrides applied."""
    extra = list(overrides or [])
    if seed is not None:
        extra.append(f"seed={seed}")
    if name is not None:
        extra.append(f"name={name}")
    return load_config(config, extra)


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    progress.enable(console)


# Packages whose ``cli`` module adds commands through ``register(app)``, in help order.
COMMAND_PACKAGES = (
    "fusionrank.pipeline",
    "fusionrank.datasets.cli",
    "fusionrank.retrieval.cli",
    "fusionrank.simulator.cli",
    "fusionrank.envs.cli",
    "fusionrank.agents.cli",
    "fusionrank.agents.baselines.cli",
    "fusionrank.evaluation.cli",
    "fusionrank.service.cli",
)


def _register() -> None:
    for name in COMMAND_PACKAGES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            missing = error.name or ""
            if name != missing and not name.startswith(missing + "."):
                raise  # a missing dependency, not a package without commands
            continue
        module.register(app)


def main() -> None:
    _register()
    try:
        app()
    except ValueError as error:
        progress.disable()
        console.print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
        sys.exit(2)
    finally:
        progress.disable()
