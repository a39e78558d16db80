"""The error that users' bad files raise, the collector that checks report to, and the
column checks shared by the loaders.

Every check names the file, the row, the column, the problem and the fix, so a user can
correct the file without reading code. Rows are 0-based data rows (the header is not
counted); for a CSV file the loaders add the file's line number (``line 14`` is the
fourteenth line of the file, the header being line 1).

Checks report to a :class:`Problems`: by default it raises the first error (what library
callers get: one clear ``ValueError``); in collecting mode (``fusionrank data validate``)
it keeps every error, up to a limit, and the checks go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

SHOWN_ROWS = 10
"""How many of the rows that share a problem an error lists."""


class DataValidationError(ValueError):
    """A user's catalog or log file breaks the schema.

    Args:
        file: The file (or frame name) that holds the bad value.
        problem: What is wrong, e.g. ``"is missing"`` (about the first bad row).
        fix: What the user should do about it.
        row: 0-based data row (header not counted), or None when the whole file or
            column is at fault.
        column: The column at fault, or None.
        rows: int, shape (n,): every row with the same problem (the first is ``row``);
            default ``[row]``.
        lines: int, shape (n,): the file line of each of ``rows`` (CSV files), or None.

    The message is ``"{file}: row {row}, column '{column}': {problem}; {fix}"``, without
    the row and column parts when they are None; ``line {line}`` replaces ``row {row}``
    when the line is known; when more rows share the problem, the message ends with how
    many and which (the first :data:`SHOWN_ROWS`).
    """

    def __init__(
        self,
        file: str,
        problem: str,
        fix: str,
        *,
        row: int | None = None,
        column: str | None = None,
        rows: np.ndarray | None = None,
        lines: np.ndarray | None = None,
    ) -> None:
        self.file = str(file)
        self.row = None if row is None else int(row)
        self.column = column
        self.problem = problem
        self.fix = fix
        if rows is None:
            rows = np.empty(0, np.int64) if row is None else np.array([row])
        self.rows = np.asarray(rows, dtype=np.int64)
        self.lines = None if lines is None else np.asarray(lines, dtype=np.int64)
        super().__init__(self._message())

    @property
    def n_rows(self) -> int:
        """How many rows share the problem (0 for a file or column error)."""
        return int(self.rows.shape[0])

    @property
    def line(self) -> int | None:
        """The file line of ``row``, when known."""
        return None if self.lines is None or not self.lines.size else int(self.lines[0])

    def _places(self, values: np.ndarray) -> str:
        shown = ", ".join(str(v) for v in values[1 : SHOWN_ROWS + 1].tolist())
        more = self.n_rows - 1 - min(self.n_rows - 1, SHOWN_ROWS)
        return shown + (f", ... ({more} more)" if more else "")

    def _message(self) -> str:
        return f"{self.file}: {self.describe()}"

    def describe(self) -> str:
        """The message without the file name (for a list of one file's errors)."""
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        elif self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        place = ", ".join(where) + ": " if where else ""
        message = f"{place}{self.problem}; {self.fix}"
        if self.n_rows > 1:
            unit = "line" if self.lines is not None else "row"
            values = self.lines if self.lines is not None else self.rows
            also = unit + ("s" if self.n_rows > 2 else "")
            message += f" ({self.n_rows} {unit}s in all; also {also} {self._places(values)})"
        return message

    def at_lines(self, line_of_row: Callable[[np.ndarray], np.ndarray]) -> DataValidationError:
        """The same error with file line numbers (``line_of_row``: rows -> lines)."""
        lines = line_of_row(self.rows) if self.rows.size else None
        return DataValidationError(
            self.file,
            self.problem,
            self.fix,
            row=self.row,
            column=self.column,
            rows=self.rows,
            lines=lines,
        )

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready values (rows and lines: the first :data:`SHOWN_ROWS`)."""
        return {
            "file": self.file,
            "column": self.column,
            "row": self.row,
            "line": self.line,
            "n_rows": self.n_rows,
            "rows": self.rows[:SHOWN_ROWS].tolist(),
            "lines": None if self.lines is None else self.lines[:SHOWN_ROWS].tolist(),
            "problem": self.problem,
            "fix": self.fix,
            "message": str(self),
        }


class Problems:
    """Where the checks report broken rules.

    Args:
        collect: False (the default): raise the first error. True: keep every error and
            let the checks go on; columns with an error are marked broken, and the checks
            that need them skip.
        limit: In collecting mode, the most errors kept; the rest are only counted.
    """

    def __init__(self, collect: bool = False, limit: int = 50) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.collect = collect
        self.limit = limit
        self.errors: list[DataValidationError] = []
        self.n_more = 0
        self._broken: set[tuple[str, str | None]] = set()

    def add(self, error: DataValidationError) -> None:
        """Report one error: raise it, or keep it (counted beyond the limit)."""
        if not self.collect:
            raise error
        self._broken.add((error.file, error.column))
        if len(self.errors) < self.limit:
            self.errors.append(error)
        else:
            self.n_more += 1

    def rows(
        self,
        bad: np.ndarray,
        file: str,
        problem: str | Callable[[int], str],
        fix: str,
        column: str | None = None,
        rows: np.ndarray | None = None,
    ) -> bool:
        """Report one error for every True of ``bad`` (bool (n,)), if any.

        Args:
            bad: Where the rule is broken.
            file: The file name.
            problem: The problem, or a function of the first bad position that says it
                (e.g. quoting the value there).
            fix: What to do.
            column: The column.
            rows: int, shape (n,): the data row of each position of ``bad`` (list entries
                map to their row); default the positions themselves.

        Returns:
            Whether the rule was broken (only in collecting mode; otherwise it raised).
        """
        hits = np.flatnonzero(bad)
        if not hits.size:
            return False
        first = int(hits[0])
        text = problem(first) if callable(problem) else problem
        at = hits if rows is None else np.unique(np.asarray(rows)[hits])
        row = first if rows is None else int(np.asarray(rows)[first])
        at = np.r_[row, at[at != row]]
        self.add(DataValidationError(file, text, fix, row=row, column=column, rows=at))
        return True

    def ok(self, file: str, *columns: str) -> bool:
        """Whether no error was reported for any of ``columns`` of ``file``."""
        return not any((file, column) in self._broken for column in columns)

    @property
    def n_errors(self) -> int:
        return len(self.errors) + self.n_more


def check_table_path(
    path: Path, formats: tuple[str, ...], what: str, save_as: str, missing_fix: str
) -> None:
    """Raise a DataValidationError unless ``path`` is a file with one of ``formats``.

    Args:
        path: The table file.
        formats: Accepted suffixes, lower case (``.csv``, ``.parquet``).
        what: What the file is, in the message (``a catalog format``).
        save_as: The fix for another suffix (``save the catalog as .parquet or .csv``).
        missing_fix: The fix for a missing file.
    """
    if path.suffix.lower() not in formats:
        raise DataValidationError(
            str(path), f"has suffix '{path.suffix}', which is not {what}", save_as
        )
    if not path.is_file():
        raise DataValidationError(str(path), "does not exist", missing_fix)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so messages read ``-1``, not
    ``np.int64(-1)``."""
    return value.item() if isinstance(value, np.generic) else value


def raising(problems: Problems | None) -> Problems:
    """``problems``, or a collector that raises the first error."""
    return Problems() if problems is None else problems


def require_columns(
    frame: pd.DataFrame, fixes: Mapping[str, str], file: str, problems: Problems | None = None
) -> None:
    """Report each column of ``fixes`` (in its order) that ``frame`` lacks.

    Args:
        frame: The table to check.
        fixes: Required column name -> the fix to suggest when it is missing.
        file: Name used in the error.
        problems: Where to report (default: raise the first).
    """
    problems = raising(problems)
    for column, fix in fixes.items():
        if column not in frame.columns:
            problems.add(DataValidationError(file, "is missing", fix, column=column))


def first_row(bad: np.ndarray) -> int | None:
    """The first True position of a bool array of shape (n,), or None."""
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def _id_kinds(values: np.ndarray) -> np.ndarray:
    """bool (n,): which values are str or int (not bool)."""
    return np.fromiter(
        (
            isinstance(v, str | int | np.integer) and not isinstance(v, bool | np.bool_)
            for v in values
        ),
        dtype=bool,
        count=len(values),
    )


def id_strings(
    series: pd.Series,
    column: str,
    file: str,
    fix_empty: str,
    problems: Problems | None = None,
) -> pd.Series:
    """Identifiers as strings: str or int values, none null or empty.

    Args:
        series: The id column, shape (n,).
        column: Its name, for errors.
        file: The file name, for errors.
        fix_empty: The fix to suggest for a null or empty id.
        problems: Where to report (default: raise the first).

    Returns:
        The ids as a str series with the same index (``""`` where broken).

    Reports:
        A null or empty id, or a value that is neither a string nor an integer (floats
        are refused: ``1.0`` may have been ``"001"``).
    """
    problems = raising(problems)
    values = series.to_numpy(dtype=object)
    null = pd.isna(series).to_numpy()
    problems.rows(null, file, "is empty", fix_empty, column)
    if pd.api.types.is_integer_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(str)
    wrong = np.zeros(len(values), dtype=bool)
    if series.dtype == object or not pd.api.types.is_string_dtype(series.dtype):
        wrong = ~_id_kinds(values) & ~null
        problems.rows(
            wrong,
            file,
            lambda at: f"holds {values[at]!r} of type {type(values[at]).__name__}",
            "ids must be strings or integers",
            column,
        )
    text = series.where(~null & ~wrong, "").astype(str)
    blank = (text.str.strip() == "").to_numpy() & ~null & ~wrong
    problems.rows(blank, file, "is empty", fix_empty, column)
    return text


def text_column(
    series: pd.Series,
    column: str,
    file: str,
    fix: str,
    *,
    allow_empty: bool,
    problems: Problems | None = None,
) -> pd.Series:
    """A text column as str; nulls become ``""`` when ``allow_empty``, else an error.

    Args:
        series: The column, shape (n,).
        column: Its name, for errors.
        file: The file name, for errors.
        fix: The fix to suggest for a null, blank or non-string value.
        allow_empty: Whether null and blank values are allowed.
        problems: Where to report (default: raise the first).

    Reports:
        A non-string value, or a null or blank one when not ``allow_empty``.
    """
    problems = raising(problems)
    null = pd.isna(series).to_numpy()
    wrong = np.zeros(len(series), dtype=bool)
    if not pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        values = series.to_numpy(dtype=object)
        is_text = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
        wrong = ~is_text & ~null
        problems.rows(
            wrong,
            file,
            lambda at: f"holds {values[at]!r} of type {type(values[at]).__name__}",
            fix,
            column,
        )
    text = series.where(~null & ~wrong, "").astype(str)
    if not allow_empty:
        problems.rows((text.str.strip() == "").to_numpy() & ~wrong, file, "is empty", fix, column)
    return text
