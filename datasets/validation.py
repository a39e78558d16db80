"""``fusionrank data validate`` as a library: every error of a catalog and a log file in
one pass, as data (:class:`ValidationReport`, with a JSON form).

The checks are the loaders' own (:func:`~fusionrank.datasets.catalog.check_catalog`,
:func:`~fusionrank.datasets.log_rules.check_log_table`) run in collecting mode: each
file's errors are kept up to a limit (the rest counted), a file whose columns are broken
still has its other columns checked, and the logs are checked even when the catalog has
errors (against the catalog's item ids whenever its ``item_id`` column is sound). Errors
in a CSV file give its line numbers; a parquet file has no lines, so its rows are named as
0-based data rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from fusionrank.datasets.catalog import check_catalog, read_raw, row_place, with_lines
from fusionrank.datasets.errors import DataValidationError, Problems
from fusionrank.datasets.events import EventColumns
from fusionrank.datasets.log_rules import check_log_table
from fusionrank.datasets.logs import MISSING_FIX, summarize_logs, validate_logs

logger = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
PARQUET_ROWS = "rows are 0-based data rows of the parquet file (the first row is row 0)"
FileKind = Literal["catalog", "logs", "events"]


@dataclass(frozen=True)
class FileCheck:
    """The outcome of checking one file.

    Args:
        kind: ``"catalog"``, ``"logs"`` or ``"events"``.
        file: The file's path.
        read_as: How it was read, e.g. ``"CSV, separator ';', encoding UTF-8"``; None
            when it could not be read.
        n_rows: Its data rows, when it could be read.
        errors: The errors kept (at most the limit).
        n_more: Further errors, counted but not kept.
        summary: Figures about a valid file (None when it has errors).
        notes: Things worth knowing that are not errors (how rows are numbered, an
            encoding that is not UTF-8, checks that had to be skipped).
    """

    kind: FileKind
    file: str
    read_as: str | None
    n_rows: int | None
    errors: tuple[DataValidationError, ...]
    n_more: int = 0
    summary: dict[str, Any] | None = None
    notes: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors and self.n_more == 0

    @property
    def n_errors(self) -> int:
        return len(self.errors) + self.n_more

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "file": self.file,
            "valid": self.valid,
            "read_as": self.read_as,
            "rows": self.n_rows,
            "n_errors": self.n_errors,
            "errors": [e.to_dict() for e in self.errors],
            "errors_not_shown": self.n_more,
            "summary": _jsonable(self.summary),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ValidationReport:
    """The checks of every file given, in order."""

    files: tuple[FileCheck, ...]
    limit: int = DEFAULT_LIMIT
    notes: tuple[str, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return all(f.valid for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "limit": self.limit,
            "files": [f.to_dict() for f in self.files],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _from(problems: Problems) -> dict[str, Any]:
    return {"errors": tuple(problems.errors), "n_more": problems.n_more}


def check_catalog_file(
    path: Path, check_images: bool = True, limit: int = DEFAULT_LIMIT
) -> tuple[FileCheck, np.ndarray | None]:
    """Every error of a catalog file, and its sound item ids (object (n,); None without
    an ``item_id`` column)."""
    file = str(path)
    try:
        raw = read_raw(path)
    except DataValidationError as error:
        return FileCheck("catalog", file, None, None, (error,)), None
    problems = Problems(collect=True, limit=limit)
    table = check_catalog(
        raw, file, check_images, root=path.parent, problems=problems, place=row_place(path, raw)
    )
    problems.errors = [with_lines(e, path, raw) for e in problems.errors]
    notes = _format_notes(raw.csv)
    ids = None
    if "item_id" in table.columns:  # the sound ids (broken ones were set to "")
        ids = table["item_id"].to_numpy(dtype=object)
        ids = pd.unique(ids[ids != ""])
    summary = None
    if not problems.n_errors:
        summary = {
            "items": len(table),
            "columns": list(table.columns),
            "images": "yes" if "image_path" in table.columns else "no (text only)",
        }
    read_as = "parquet" if raw.csv is None else f"CSV, {raw.csv.describe()}"
    check = FileCheck(
        "catalog", file, read_as, len(table), summary=summary, notes=notes, **_from(problems)
    )
    return check, ids


def _format_notes(csv: Any) -> tuple[str, ...]:
    if csv is None:
        return (PARQUET_ROWS,)
    if csv.is_utf8:
        return ()
    return (
        f"the file is not UTF-8; it was read as {csv.describe().split('encoding ')[-1]}: "
        "check that accented letters came out right, or save it as UTF-8",
    )


def check_logs_file(
    path: Path, catalog_ids: np.ndarray | None, limit: int = DEFAULT_LIMIT
) -> FileCheck:
    """Every error of a parquet log file (item ids checked against ``catalog_ids``,
    object (n_items,), when given)."""
    file = str(path)
    if path.suffix.lower() != ".parquet":
        error = DataValidationError(
            file,
            f"has suffix '{path.suffix}'; logs must be parquet (their list columns need it)",
            "convert a page table with pandas' DataFrame.to_parquet, or an event table "
            "(one row per shown item) with `fusionrank data import-events`",
        )
        return FileCheck("logs", file, None, None, (error,))
    if not path.is_file():
        return FileCheck(
            "logs", file, None, None, (DataValidationError(file, "does not exist", MISSING_FIX),)
        )
    try:
        frame = pd.read_parquet(path)
    except (ValueError, OSError) as error:
        problem = f"cannot be read as parquet ({error})"
        fix = "check that the file is a complete parquet file"
        return FileCheck("logs", file, None, None, (DataValidationError(file, problem, fix),))
    return check_log_frame(frame, file, catalog_ids, limit, "parquet")


def check_log_frame(
    frame: pd.DataFrame,
    file: str,
    catalog_ids: np.ndarray | None,
    limit: int = DEFAULT_LIMIT,
    read_as: str = "parquet",
) -> FileCheck:
    """Every error of a log table (see :func:`check_logs_file`)."""
    problems = Problems(collect=True, limit=limit)
    check_log_table(frame, file, catalog_ids, problems)
    notes = [PARQUET_ROWS]
    if catalog_ids is None:
        notes.append("shown item ids were not checked against a catalog")
    summary = None
    if not problems.n_errors:
        summary = summarize_logs(validate_logs(frame, file))
    return FileCheck(
        "logs", file, read_as, len(frame), summary=summary, notes=tuple(notes), **_from(problems)
    )


def validate_files(
    catalog: Path | None = None,
    logs: Path | None = None,
    check_images: bool = True,
    limit: int = DEFAULT_LIMIT,
    events: Path | None = None,
    event_columns: EventColumns | None = None,
) -> ValidationReport:
    """Check a catalog, a log file and/or an event file, collecting every error (module
    docstring).

    Args:
        catalog: A catalog file (.parquet or .csv), or None.
        logs: A log file (.parquet), or None.
        check_images: Check that every ``image_path`` names an existing file.
        limit: The most errors kept per file; the rest are counted.
        events: An event file (.csv or .parquet; see :mod:`fusionrank.datasets.events`),
            or None.
        event_columns: The event file's column names (default :class:`EventColumns`).

    Raises:
        ValueError: If no file is given, or ``limit`` < 1.
    """
    if catalog is None and logs is None and events is None:
        raise ValueError("give a catalog, a log file, an event file or several")
    if limit < 1:
        raise ValueError(f"the error limit must be >= 1, got {limit}")
    files = []
    ids = None
    if catalog is not None:
        check, ids = check_catalog_file(Path(catalog), check_images, limit)
        files.append(check)
    if logs is not None:
        check = check_logs_file(Path(logs), ids, limit)
        if catalog is not None and ids is None:
            skipped = "the catalog's item ids have errors, so shown items were not checked"
            notes = (*tuple(n for n in check.notes if "not checked" not in n), skipped)
            check = replace(check, notes=notes)
        files.append(check)
    if events is not None:
        from fusionrank.datasets.importing import check_events_file

        files.append(check_events_file(Path(events), event_columns, limit)[0])
    return ValidationReport(tuple(files), limit)
