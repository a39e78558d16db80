"""``fusionrank world ...`` and ``fusionrank data ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from fusionrank.cli import ConfigOption, NameOption, SeedOption, SetOption, console, run_config
from fusionrank.runs import RunFolder

world_app = typer.Typer(
    help="Generate ShopWorld, the embedded default world.", no_args_is_help=True
)
data_app = typer.Typer(help="Check catalogs and logs before using them.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(world_app, name="world")
    app.add_typer(data_app, name="data")


def print_summary(title: str, summary: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    for key, value in summary.items():
        if isinstance(value, float):
            value = f"{value:,.4g}"
        elif isinstance(value, list):
            value = ", ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        table.add_row(key, str(value))
    console.print(table)


@world_app.command("generate")
def generate(
    config: ConfigOption = None,
    overrides: SetOption = None,
    seed: SeedOption = None,
    name: NameOption = None,
    out: Annotated[
        Path | None, typer.Option(help="Folder to write; default runs/<name>/world.")
    ] = None,
) -> None:
    """Generate a ShopWorld: catalog, images and logs, and its hidden truth apart."""
    from fusionrank.datasets.shopworld.world import generate_world

    resolved = run_config(config, overrides, seed, name)
    run = RunFolder.for_config(resolved)
    target = out or run.world_dir
    if out is None:
        run.save_config(resolved)
    summary = generate_world(resolved.world, resolved.seed, target)
    print_summary(f"ShopWorld in {target}", summary)


@data_app.command("validate")
def validate(
    catalog: Annotated[Path | None, typer.Option(help="Catalog file (.parquet or .csv).")] = None,
    logs: Annotated[Path | None, typer.Option(help="Log file (.parquet).")] = None,
    check_images: Annotated[bool, typer.Option(help="Check that every image file exists.")] = True,
) -> None:
    """Validate a catalog and/or a log file and print a summary."""
    from fusionrank.datasets import load_catalog, load_logs, summarize_logs

    if catalog is None and logs is None:
        raise ValueError("give --catalog, --logs or both")
    loaded = None
    if catalog is not None:
        loaded = load_catalog(catalog, check_images=check_images)
        print_summary(
            f"catalog {catalog}: valid",
            {
                "items": len(loaded),
                "columns": list(loaded.table.columns),
                "images": "yes" if loaded.has_images else "no (text only)",
            },
        )
    if logs is not None:
        frame = load_logs(logs, catalog=loaded)
        print_summary(f"logs {logs}: valid", summarize_logs(frame))
