"""``fusionrank world ...`` and ``fusionrank data ...``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fusionrank.cli.console import print_summary
from fusionrank.cli.options import ConfigOption, NameOption, SeedOption, SetOption, resolve_run

world_app = typer.Typer(
    help="Generate ShopWorld, the embedded default world.", no_args_is_help=True
)
data_app = typer.Typer(help="Check catalogs and logs before using them.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(world_app, name="world")
    app.add_typer(data_app, name="data")


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
    resolved, run = resolve_run(config, overrides, seed, name)
    if out is not None:
        from fusionrank.datasets.shopworld.world import generate_world

        print_summary(f"ShopWorld in {out}", generate_world(resolved.world, resolved.seed, out))
        return
    from fusionrank.datasets.stages import prepare_world

    run.save_config(resolved)
    result = prepare_world(run, resolved.world, resolved.seed)
    print_summary(f"ShopWorld in {run.world.path}", result.figures)


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
