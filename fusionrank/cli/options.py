"""The options every command shares, and the config they resolve to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusionrank.config import RunConfig, load_config, with_page_width
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
    resolved = fit_to_own_logs(run_config(config, overrides, seed, name))
    run = run_folder(resolved)
    if record_inputs:
        from fusionrank.cli.inputs import record_run_inputs

        record_run_inputs(run, resolved)
    return resolved, run


def fit_to_own_logs(config: RunConfig) -> RunConfig:
    """On the user's own logs, page sizes the user did not set follow the logs' pages."""
    logs = config.data.logs
    if logs is None or not Path(logs).is_file() or Path(logs).suffix != ".parquet":
        return config
    from fusionrank.datasets.stages import page_width

    try:
        width = page_width(Path(logs))
    except Exception:  # an unreadable log file: the validation that follows says why
        return config
    return with_page_width(config, width) if width > 0 else config


def run_folder(config: RunConfig) -> RunFolder:
    return RunFolder(config.run_dir)
