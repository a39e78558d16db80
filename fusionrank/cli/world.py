"""``fusionrank world ...`` and ``fusionrank data ...``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fusionrank.cli.console import console, print_summary
from fusionrank.cli.options import ConfigOption, NameOption, SeedOption, SetOption, resolve_run

if TYPE_CHECKING:
    from fusionrank.datasets.validation import FileCheck

world_app = typer.Typer(
    help="Generate ShopWorld, the embedded default world.", no_args_is_help=True
)
data_app = typer.Typer(
    help="Check catalogs and logs before using them; import event logs.", no_args_is_help=True
)


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


def print_check(check: FileCheck) -> None:
    """One file's check: how it was read, its errors (or its summary), and notes."""
    read = f" ({check.read_as})" if check.read_as else ""
    if check.valid:
        print_summary(f"{check.kind} {check.file}{read}: valid", check.summary or {})
    else:
        console.print(f"[bold red]{check.kind} {check.file}{read}: {check.n_errors} error(s)[/]")
        for error in check.errors:
            console.print(f"  - {error.describe()}", markup=False, highlight=False)
        if check.n_more:
            console.print(f"  ... and {check.n_more} more error(s) (raise --max-errors)")
    for note in check.notes:
        console.print(f"  note: {note}", markup=False, highlight=False)


MaxErrorsOption = Annotated[
    int, typer.Option(min=1, help="Most errors listed per file; the rest are counted.")
]
ColumnOption = Annotated[
    list[str] | None,
    typer.Option(
        help="Events: FIELD=COLUMN when a field has another column name, e.g. item=sku "
        "(fields: session, query_text, item, position, clicked, timestamp, purchased, "
        "propensity, query_id, page, policy)."
    ),
]
ReportOption = Annotated[
    Path | None, typer.Option(help="Also write the result as JSON to this file.")
]


def _finish(checks: tuple[FileCheck, ...], report: Path | None, payload: dict[str, Any]) -> None:
    from fusionrank.io import write_json

    for check in checks:
        print_check(check)
    if report is not None:
        write_json(report, payload)
        console.print(f"JSON report: {report}")
    if not all(c.valid for c in checks):
        raise typer.Exit(1)


@data_app.command("validate")
def validate(
    catalog: Annotated[Path | None, typer.Option(help="Catalog file (.parquet or .csv).")] = None,
    logs: Annotated[Path | None, typer.Option(help="Log file (.parquet).")] = None,
    events: Annotated[
        Path | None,
        typer.Option(help="Event file (.csv or .parquet; see import-events) to check."),
    ] = None,
    column: ColumnOption = None,
    check_images: Annotated[bool, typer.Option(help="Check that every image file exists.")] = True,
    max_errors: MaxErrorsOption = 50,
    report: ReportOption = None,
) -> None:
    """Validate a catalog, a log file and/or an event file: every error (file, line or row,
    column, problem, fix) in one run, or a summary of each valid file; exit status 1 on
    errors."""
    from fusionrank.datasets.events import EventColumns
    from fusionrank.datasets.validation import validate_files

    if catalog is None and logs is None and events is None:
        raise ValueError("give --catalog, --logs, --events or several")
    result = validate_files(
        catalog,
        logs,
        check_images=check_images,
        limit=max_errors,
        events=events,
        event_columns=EventColumns.parse(column),
    )
    _finish(result.files, report, result.to_dict())


@data_app.command("import-events")
def import_events_command(
    events: Annotated[
        Path, typer.Argument(help="Event table (.csv or .parquet), one row per shown item.")
    ],
    out: Annotated[Path, typer.Option(help="The page-schema log file to write (.parquet).")],
    column: ColumnOption = None,
    max_errors: MaxErrorsOption = 50,
    report: ReportOption = None,
) -> None:
    """Turn one row per shown item (session, query, item, position, clicked, purchased,
    timestamp[, propensity]) into the page-schema logs that every stage reads."""
    from fusionrank.datasets.events import EventColumns
    from fusionrank.datasets.importing import import_events

    result = import_events(events, out, EventColumns.parse(column), limit=max_errors)
    _finish((result,), report, {"valid": result.valid, "out": str(out), **result.to_dict()})
    console.print(f"wrote {out}")
