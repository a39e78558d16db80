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
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.datasets.errors import (
    DataValidationError,
    first_row,
    id_strings,
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
_TEXT_COLUMNS = ("item_id", "title", "description", "image_path", "category")


def load_catalog(path: str | Path, check_images: bool = True) -> Catalog:
    """Read and validate a catalog file.

    Args:
        path: A ``.parquet`` or ``.csv`` file.
        check_images: Check that every ``image_path`` names an existing file.

    Returns:
        The validated catalog; ``root`` is the catalog file's folder.

    Raises:
        DataValidationError: Naming the file, row, column, problem and fix, when the file
            is missing, unreadable or breaks the schema.
    """
    path = Path(path)
    file = str(path)
    table = read_table(path)
    table = validate_catalog(table, file)
    if check_images and "image_path" in table.columns:
        check_image_files(table["image_path"], path.parent, file)
    logger.info("catalog %s: %d items, columns %s", file, len(table), list(table.columns))
    return Catalog(table=table, root=path.parent)


def read_table(path: Path) -> pd.DataFrame:
    """The raw table of a catalog file; text columns of a CSV are read as strings so that
    ids such as ``007`` keep their zeros."""
    file = str(path)
    if path.suffix.lower() not in FORMATS:
        raise DataValidationError(
            file,
            f"has suffix '{path.suffix}', which is not a catalog format",
            "save the catalog as .parquet or .csv",
        )
    if not path.is_file():
        raise DataValidationError(
            file, "does not exist", "check the path; a catalog is one .parquet or .csv file"
        )
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path, dtype=dict.fromkeys(_TEXT_COLUMNS, str))
        return pd.read_parquet(path)
    except (ValueError, OSError) as error:
        raise DataValidationError(
            file,
            f"cannot be read as {path.suffix.lower()[1:]} ({error})",
            "check that the file is complete and in the format its suffix names",
        ) from error


def validate_catalog(table: pd.DataFrame, file: str = "catalog") -> pd.DataFrame:
    """Check a catalog table and return a normalised copy (ids as str, texts filled).

    Args:
        table: The raw catalog table.
        file: Name used in errors.

    Raises:
        DataValidationError: On the first broken rule (see the module docstring).
    """
    require_columns(table, REQUIRED, file)
    table = table.reset_index(drop=True).copy()
    table["item_id"] = id_strings(
        table["item_id"], "item_id", file, "give every item a non-empty id"
    )
    _check_unique(table["item_id"], file)
    table["title"] = text_column(
        table["title"], "title", file, "give every item a title", allow_empty=False
    )
    for column in ("description", "category"):
        if column in table.columns:
            table[column] = text_column(
                table[column], column, file, f"store '{column}' as text", allow_empty=True
            )
    if "image_path" in table.columns:
        table["image_path"] = text_column(
            table["image_path"],
            "image_path",
            file,
            "give every item an image file, or drop the column to turn the image modality off",
            allow_empty=False,
        )
    if "price" in table.columns:
        table["price"] = _prices(table["price"], file)
    return table


def _check_unique(ids: pd.Series, file: str) -> None:
    repeated = ids.duplicated().to_numpy()
    row = first_row(repeated)
    if row is not None:
        first = int(np.flatnonzero((ids == ids.iloc[row]).to_numpy())[0])
        raise DataValidationError(
            file,
            f"duplicate id '{ids.iloc[row]}' (first at row {first})",
            "make item ids unique",
            row=row,
            column="item_id",
        )


def _prices(series: pd.Series, file: str) -> pd.Series:
    """Prices as float64; every value numeric, finite and >= 0."""
    fix = "give every item a finite price >= 0, or drop the column"
    if pd.api.types.is_bool_dtype(series.dtype):
        raise DataValidationError(file, "holds booleans", fix, column="price")
    numbers = pd.to_numeric(series, errors="coerce").astype(np.float64)
    not_numeric = numbers.isna().to_numpy() & series.notna().to_numpy()
    row = first_row(not_numeric)
    if row is not None:
        raise DataValidationError(
            file, f"holds {series.iloc[row]!r}, not a number", fix, row=row, column="price"
        )
    values = numbers.to_numpy()
    row = first_row(~np.isfinite(values) | (values < 0))
    if row is not None:
        problem = "is empty" if np.isnan(values[row]) else f"holds {values[row]:g}"
        raise DataValidationError(file, problem, fix, row=row, column="price")
    return numbers


def check_image_files(image_paths: pd.Series, root: Path, file: str) -> None:
    """Raise for the first image file that does not exist.

    Args:
        image_paths: str, shape (n_items,): paths relative to ``root`` or absolute.
        root: The catalog file's folder.
        file: The catalog file name, for errors.
    """
    # One stat per file is unavoidable; stop at the first missing one.
    for row, value in enumerate(image_paths.tolist()):
        if not (root / value).is_file():
            raise DataValidationError(
                file,
                f"image file '{root / value}' does not exist",
                "add the file, correct the path (relative to the catalog's folder), "
                "or load with check_images=False",
                row=row,
                column="image_path",
            )
