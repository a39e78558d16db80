"""The error that users' bad files raise, and the column checks shared by the loaders.

Every check names the file, the 0-based data row (the header is not counted), the
column, the problem and the fix, so a user can correct the file without reading code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)


class DataValidationError(ValueError):
    """A user's catalog or log file breaks the schema.

    Args:
        file: The file (or frame name) that holds the bad value.
        problem: What is wrong, e.g. ``"is missing"``.
        fix: What the user should do about it.
        row: 0-based data row (header not counted), or None when the whole file or
            column is at fault.
        column: The column at fault, or None.

    The message is ``"{file}: row {row}, column '{column}': {problem}; {fix}"``, without
    the row and column parts when they are None.
    """

    def __init__(
        self,
        file: str,
        problem: str,
        fix: str,
        *,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = str(file)
        self.row = None if row is None else int(row)
        self.column = column
        self.problem = problem
        self.fix = fix
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if column is not None:
            where.append(f"column '{column}'")
        place = f"{self.file}: " + (", ".join(where) + ": " if where else "")
        super().__init__(f"{place}{problem}; {fix}")


def require_columns(frame: pd.DataFrame, fixes: Mapping[str, str], file: str) -> None:
    """Raise for the first column of ``fixes`` (in its order) that ``frame`` lacks.

    Args:
        frame: The table to check.
        fixes: Required column name -> the fix to suggest when it is missing.
        file: Name used in the error.
    """
    for column, fix in fixes.items():
        if column not in frame.columns:
            raise DataValidationError(file, "is missing", fix, column=column)


def first_row(bad: np.ndarray) -> int | None:
    """The first True position of a bool array of shape (n,), or None."""
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def id_strings(series: pd.Series, column: str, file: str, fix_empty: str) -> pd.Series:
    """Identifiers as strings: str or int values, none null or empty.

    Args:
        series: The id column, shape (n,).
        column: Its name, for errors.
        file: The file name, for errors.
        fix_empty: The fix to suggest for a null or empty id.

    Returns:
        The ids as a str series with the same index.

    Raises:
        DataValidationError: On a null or empty id, or a value that is neither a string
            nor an integer (floats are refused: ``1.0`` may have been ``"001"``).
    """
    values = series.to_numpy(dtype=object)
    null = pd.isna(series).to_numpy()
    row = first_row(null)
    if row is not None:
        raise DataValidationError(file, "is empty", fix_empty, row=row, column=column)
    if pd.api.types.is_integer_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(str)
    if series.dtype == object or not pd.api.types.is_string_dtype(series.dtype):
        kinds = np.fromiter(
            (
                isinstance(v, str | int | np.integer) and not isinstance(v, bool | np.bool_)
                for v in values
            ),
            dtype=bool,
            count=len(values),
        )
        row = first_row(~kinds)
        if row is not None:
            bad = values[row]
            raise DataValidationError(
                file,
                f"holds {bad!r} of type {type(bad).__name__}",
                "ids must be strings or integers",
                row=row,
                column=column,
            )
    text = series.astype(str)
    row = first_row((text.str.strip() == "").to_numpy())
    if row is not None:
        raise DataValidationError(file, "is empty", fix_empty, row=row, column=column)
    return text


def text_column(
    series: pd.Series, column: str, file: str, fix: str, *, allow_empty: bool
) -> pd.Series:
    """A text column as str; nulls become ``""`` when ``allow_empty``, else an error.

    Args:
        series: The column, shape (n,).
        column: Its name, for errors.
        file: The file name, for errors.
        fix: The fix to suggest for a null, blank or non-string value.
        allow_empty: Whether null and blank values are allowed.

    Raises:
        DataValidationError: On a non-string value, or a null or blank one when not
            ``allow_empty``.
    """
    null = pd.isna(series).to_numpy()
    if not pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        values = series.to_numpy(dtype=object)
        is_text = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
        row = first_row(~is_text & ~null)
        if row is not None:
            bad = values[row]
            raise DataValidationError(
                file, f"holds {bad!r} of type {type(bad).__name__}", fix, row=row, column=column
            )
    text = series.where(~null, "").astype(str)
    if not allow_empty:
        row = first_row((text.str.strip() == "").to_numpy())
        if row is not None:
            raise DataValidationError(file, "is empty", fix, row=row, column=column)
    return text
