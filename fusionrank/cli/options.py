"""The options every command shares, and the config they resolve to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusionrank.config import RunConfig, load_config
from fusionrank.runs import RunFolder

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


def resolve_run(
    config: Path | None,
    overrides: list[str] | None,
    seed: int | None = None,
    name: str | None = None,
    record_inputs: bool = False,
) -> tuple[RunConfig, RunFolder]:
    """The resolved config and its run folder; with ``record_inputs``, the config's own
    data files (``data.catalog``, ``data.logs``) are recorded as the run's inputs."""
    resolved = run_config(config, overrides, seed, name)
    run = run_folder(resolved)
    if record_inputs:
        from fusionrank.cli.inputs import record_run_inputs

        record_run_inputs(run, resolved)
    return resolved, run


def run_folder(config: RunConfig) -> RunFolder:
    return RunFolder(config.run_dir)
