"""The ``fusionrank`` command line: one entry point, one sub-command per job.

The commands are thin: parse the options, resolve the config and the run folder, call one
library stage function (e.g. :func:`fusionrank.simulator.stages.fit_run_simulator`) and
print its typed result. Library errors about user input are ``ValueError``s; they are
shown as one clear message and exit code 2, never a traceback.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Annotated

import typer
from rich.logging import RichHandler

from fusionrank import progress
from fusionrank.cli.console import console

app = typer.Typer(
    help="Reinforcement-learning ranking for multimodal product search.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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


# Modules whose ``register(app)`` adds commands, in help order.
COMMAND_MODULES = (
    "fusionrank.cli.demo",
    "fusionrank.cli.world",
    "fusionrank.cli.retrieval",
    "fusionrank.cli.simulator",
    "fusionrank.cli.envs",
    "fusionrank.cli.train",
    "fusionrank.cli.baselines",
    "fusionrank.cli.evaluation",
    "fusionrank.cli.service",
)


def register_commands() -> typer.Typer:
    """Add every command to :data:`app` (once) and return it."""
    if not app.registered_commands and not app.registered_groups:
        for name in COMMAND_MODULES:
            importlib.import_module(name).register(app)
    return app


def main() -> None:
    register_commands()
    try:
        app()
    except ValueError as error:
        progress.disable()
        console.print(f"[bold red]error:[/] {error}", highlight=False, markup=True)
        sys.exit(2)
    finally:
        progress.disable()
