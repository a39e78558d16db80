"""Loading and validating a user's product catalog (.parquet or .csv).

Schema, one row per item:

=============== ========= ==============================================================
column          required  rule
=============== ========= ==============================================================
``item_id``     yes       str or int (stored as str); non-null, non-empty, unique
``title``       yes       non-empty str
``description`` no        str; null becomes ``""``
``image_path``  no        relative to the catalog file's folder, or absolute; with
                          ``check_images`` every file must exist
``price``       no        numeric, finite, >= 0
``category``    no        str; null becomes ``""``
anything else   no        kept as it is
=============== ========= ==============================================================

A CSV file may use any of the separators ``,`` ``;`` tab ``|`` and be UTF-8 (with or
without a BOM), Windows-1252 or Latin-1 (:mod:`fusionrank.datasets.csvfiles`); errors in
a CSV file name its line numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.datasets.csvfiles import CsvFormat, line_mapper, read_csv, separator_hint
from fusionrank.datasets.errors import (
    DataValidationError,
    Problems,
    check_table_path,
    id_strings,
    plain,
    raising,
    require_columns,
    text_column,
)
from fusionrank.types import Catalog

logger = logging.getLogger(__name__)

FORMATS = (".parquet", ".csv")
REQUIRED = {
    "item_id": "add an 'item_id' column with a unique id for each item",
    "title": "add a 'title' column with each item's name",
}
MISSING_FIX = (
    "check the path (in a run config it is data.catalog, relative to the folder you run "
    "fusionrank in); a catalog is one .parquet or .csv file"
)
_TEXT_COLUMNS = ("item_id", "title", "description", "image_path", "category")


@dataclass(frozen=True, eq=False)
class RawTable:
    """A table as read from a file, before validation.

    Args:
        table: The rows.
        csv: How the file was written, for a CSV file; None for parquet.
    """

    table: pd.DataFrame
    csv: CsvFormat | None = None


def load_catalog(path: str | Path, check_images: bool = True) -> Catalog:
    """Read and validate a catalog file.

    Args:
        path: A ``.parquet`` or ``.csv`` file.
        check_images: Check that every ``image_path`` names an existing file.

    Returns:
        The validated catalog; ``root`` is the catalog file's folder.

    Raises:
        DataValidationError: Naming the file, row (line, for CSV), column, problem and
            fix, when the file is missing, unreadable or breaks the schema.
    """
    path = Path(path)
    raw = read_raw(path)
    try:
        table = check_catalog(
            raw, str(path), check_images, root=path.parent, place=row_place(path, raw)
        )
    except DataValidationError as error:
        raise with_lines(error, path, raw) from None
    logger.info("catalog %s: %d items, columns %s", path, len(table), list(table.columns))
    return Catalog(table=table, root=path.parent)


def with_lines(error: DataValidationError, path: Path, raw: RawTable) -> DataValidationError:
    """``error`` with file line numbers when the file is a CSV."""
    if raw.csv is None or not error.rows.size:
        return error
    return error.at_lines(line_mapper(path, raw.csv))


def row_place(path: Path, raw: RawTable) -> Callable[[int], str]:
    """How a message names a data row of the file: ``line 14`` for CSV, else ``row 12``."""
    if raw.csv is None:
        return _row
    lines = line_mapper(path, raw.csv)
    return lambda row: f"line {int(lines(np.array([row]))[0])}"


def _row(row: int) -> str:
    return f"row {row}"


def read_raw(path: Path) -> RawTable:
    """The raw table of a catalog file; text columns of a CSV are read as strings so that
    ids such as ``007`` keep their zeros.

    Raises:
        DataValidationError: For a missing file, another format, or an unreadable file.
    """
    file = str(path)
    check_table_path(
        path, FORMATS, "a catalog format", "save the catalog as .parquet or .csv", MISSING_FIX
    )
    try:
        if path.suffix.lower() == ".csv":
            return RawTable(*read_csv(path, _TEXT_COLUMNS))
        return RawTable(pd.read_parquet(path))
    except (ValueError, OSError) as error:
        raise DataValidationError(
            file,
            f"cannot be read as {path.suffix.lower()[1:]} ({error})",
            "check that the file is complete and in the format its suffix names",
        ) from error


def read_table(path: Path) -> pd.DataFrame:
    """The raw table of a catalog file (see :func:`read_raw`)."""
    return read_raw(path).table


def validate_catalog(table: pd.DataFrame, file: str = "catalog") -> pd.DataFrame:
    """Check a catalog table and return a normalised copy (ids as str, texts filled).

    Args:
        table: The raw catalog table.
        file: Name used in errors.

    Raises:
        DataValidationError: On the first broken rule (see the module docstring).
    """
    return check_catalog(RawTable(table), file, check_images=False)


def check_catalog(
    raw: RawTable,
    file: str,
    check_images: bool,
    root: Path | None = None,
    problems: Problems | None = None,
    place: Callable[[int], str] = _row,
) -> pd.DataFrame:
    """Check every rule of the module docstring, reporting to ``problems`` (default:
    raise the first broken one), and return the normalised table (in collecting mode,
    broken values are left as they are). ``place`` names a row inside a message."""
    problems = raising(problems)
    fixes = dict(REQUIRED)
    if raw.csv is not None:
        fixes = {c: f"{fix} ({separator_hint(raw.table, raw.csv)})" for c, fix in fixes.items()}
    require_columns(raw.table, fixes, file, problems)
    table = raw.table.reset_index(drop=True).copy()
    if "item_id" in table.columns:
        table["item_id"] = id_strings(
            table["item_id"], "item_id", file, "give every item a non-empty id", problems
        )
        _check_unique(table["item_id"], file, problems, place)
    if "title" in table.columns:
        table["title"] = text_column(
            table["title"], "title", file, "give every item a title", allow_empty=False,
            problems=problems,
        )  # fmt: skip
    for column in ("description", "category"):
        if column in table.columns:
            table[column] = text_column(
                table[column], column, file, f"store '{column}' as text", allow_empty=True,
                problems=problems,
            )  # fmt: skip
    if "image_path" in table.columns:
        table["image_path"] = text_column(
            table["image_path"],
            "image_path",
            file,
            "give every item an image file, or drop the column to turn the image modality off",
            allow_empty=False,
            problems=problems,
        )
        if check_images and root is not None:
            check_image_files(table["image_path"], root, file, problems)
    if "price" in table.columns:
        prices = table["price"]
        if raw.csv is not None and raw.csv.decimal == ",":  # pandas left a column with a bad cell
            prices = prices.map(lambda v: v.replace(",", ".") if isinstance(v, str) else v)
        table["price"] = _prices(prices, file, problems)
    return table


def _check_unique(
    ids: pd.Series, file: str, problems: Problems, place: Callable[[int], str]
) -> None:
    repeated = ids.duplicated().to_numpy() & (ids != "").to_numpy()  # blanks: reported

    def problem(at: int) -> str:
        first = int(np.flatnonzero((ids == ids.iloc[at]).to_numpy())[0])
        return f"duplicate id '{ids.iloc[at]}' (first at {place(first)})"

    problems.rows(repeated, file, problem, "make item ids unique", "item_id")


def _prices(series: pd.Series, file: str, problems: Problems) -> pd.Series:
    """Prices as float64; every value numeric, finite and >= 0."""
    fix = "give every item a finite price >= 0, or drop the column"
    if pd.api.types.is_bool_dtype(series.dtype):
        problems.add(DataValidationError(file, "holds booleans", fix, column="price"))
        return series
    numbers = pd.to_numeric(series, errors="coerce").astype(np.float64)
    values = numbers.to_numpy()
    given = series.notna().to_numpy()
    rules = (
        (np.isnan(values) & given, lambda at: f"holds {plain(series.iloc[at])!r}, not a number"),
        (~given, lambda at: "is empty"),
        (np.isinf(values), lambda at: f"holds {values[at]:g}"),
        (np.isfinite(values) & (values < 0), lambda at: f"holds {values[at]:g}"),
    )
    for bad, problem in rules:
        problems.rows(bad, file, problem, fix, "price")
    return numbers


def check_image_files(
    image_paths: pd.Series, root: Path, file: str, problems: Problems | None = None
) -> None:
    """Report every image file that does not exist.

    Args:
        image_paths: str, shape (n_items,): paths relative to ``root`` or absolute.
        root: The catalog file's folder.
        file: The catalog file name, for errors.
        problems: Where to report (default: raise the first).
    """
    problems = raising(problems)
    paths = image_paths.tolist()
    # One stat per file is unavoidable; in raising mode stop at the first missing one.
    missing = np.zeros(len(paths), dtype=bool)
    for row, value in enumerate(paths):
        missing[row] = value != "" and not (root / value).is_file()  # blanks: reported
        if missing[row] and not problems.collect:
            break
    problems.rows(
        missing,
        file,
        lambda at: f"image file '{root / paths[at]}' does not exist",
        "add the file, correct the path (relative to the catalog's folder), "
        "or load with check_images=False",
        "image_path",
    )
