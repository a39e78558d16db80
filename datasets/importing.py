"""``fusionrank data import-events``: an event file (CSV or parquet) to a page-schema log
file, with every error of the events reported at once (file lines for a CSV)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from fusionrank.datasets.csvfiles import CsvFormat, line_mapper, read_csv
from fusionrank.datasets.errors import DataValidationError, Problems, check_table_path
from fusionrank.datasets.events import EventColumns, events_to_pages
from fusionrank.datasets.logs import summarize_logs, write_logs
from fusionrank.datasets.validation import DEFAULT_LIMIT, PARQUET_ROWS, FileCheck

logger = logging.getLogger(__name__)

FORMATS = (".csv", ".parquet")


def read_events(path: Path, columns: EventColumns) -> tuple[pd.DataFrame, CsvFormat | None]:
    """The raw event table; in a CSV the id columns are read as text (ids keep their
    zeros).

    Raises:
        DataValidationError: For a missing file, another format, or an unreadable one.
    """
    file = str(path)
    check_table_path(
        path,
        FORMATS,
        "an event table format",
        "save the events as .csv or .parquet",
        "check the path of the event file",
    )
    try:
        if path.suffix.lower() == ".csv":
            ids = (columns.session, columns.item, columns.query_id, columns.query_text)
            return read_csv(path, ids)
        return pd.read_parquet(path), None
    except (ValueError, OSError) as error:
        raise DataValidationError(
            file,
            f"cannot be read as {path.suffix.lower()[1:]} ({error})",
            "check that the file is complete and in the format its suffix names",
        ) from error


def check_events_file(
    path: Path, columns: EventColumns | None = None, limit: int = DEFAULT_LIMIT
) -> tuple[FileCheck, pd.DataFrame | None]:
    """Every error of an event file, and its pages when it has none.

    Args:
        path: The event file (.csv or .parquet).
        columns: Which column holds each field (default :class:`EventColumns`).
        limit: The most errors kept; the rest are counted.
    """
    columns = columns or EventColumns()
    file = str(path)
    try:
        events, csv = read_events(path, columns)
    except DataValidationError as error:
        return FileCheck("events", file, None, None, (error,)), None
    problems = Problems(collect=True, limit=limit)
    pages = events_to_pages(events, columns, file, problems)
    if csv is not None:
        lines = line_mapper(path, csv)
        problems.errors = [e.at_lines(lines) if e.rows.size else e for e in problems.errors]
    read_as = "parquet" if csv is None else f"CSV, {csv.describe()}"
    notes = (PARQUET_ROWS.replace("parquet file", "event file"),) if csv is None else ()
    if pages is None or problems.n_errors:
        check = FileCheck(
            "events", file, read_as, len(events), tuple(problems.errors), problems.n_more,
            notes=notes,
        )  # fmt: skip
        return check, None
    summary = {"events": len(events), **summarize_logs(pages)}
    return FileCheck("events", file, read_as, len(events), (), summary=summary, notes=notes), pages


def import_events(
    path: str | Path,
    out: str | Path,
    columns: EventColumns | None = None,
    limit: int = DEFAULT_LIMIT,
) -> FileCheck:
    """Read, check and convert an event file; write the pages to ``out`` only when every
    event is valid (atomically: an existing ``out`` stays as it was otherwise).

    Args:
        path: The event file (.csv or .parquet).
        out: The log file to write (.parquet).
        columns: Which column holds each field (default :class:`EventColumns`).
        limit: The most errors kept; the rest are counted.

    Returns:
        The check of the event file; its summary describes the pages written.

    Raises:
        ValueError: If ``out`` is not a ``.parquet`` path.
    """
    path, out = Path(path), Path(out)
    if out.suffix.lower() != ".parquet":
        raise ValueError(f"--out {out}: logs are written as .parquet; give a .parquet path")
    check, pages = check_events_file(path, columns, limit)
    if pages is not None:
        write_logs(pages, out)
        logger.info("%s: %d events -> %d pages in %s", path, check.n_rows, len(pages), out)
    return check


__all__ = ["check_events_file", "import_events", "read_events"]
