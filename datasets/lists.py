"""List columns of a log table as flat numpy arrays, checked entry by entry.

A log row holds lists (items shown, clicks, ...). Checking them row by row in Python is
slow at 50,000 pages, so each column is converted once to an Arrow list array and
flattened: ``values`` holds every entry, ``lengths`` each row's count. Only when a column
mixes types (e.g. ``[1, "a"]``) does a per-row Python pass coerce it first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fusionrank.datasets.errors import DataValidationError, Problems, plain, raising

logger = logging.getLogger(__name__)

Kind = Literal["id", "flag", "probability", "position"]
_ARROW_TYPES: dict[str, pa.DataType] = {
    "id": pa.string(),
    "flag": pa.bool_(),
    "probability": pa.float64(),
    "position": pa.int64(),
}
_DTYPES = {"id": object, "flag": bool, "probability": np.float64, "position": np.int64}
_FIXES = {
    "id": "item ids must be strings or integers",
    "flag": "store one bool (or 0/1) per shown item",
    "probability": "propensities must be numbers in (0, 1]",
    "position": "positions are integers >= 1 (the top item is at position 1)",
}


@dataclass(frozen=True, eq=False)
class FlatList:
    """A list column, flattened.

    Args:
        lengths: int64, shape (n,): entries per row; 0 for a null row.
        values: shape (total,): every entry, rows one after another; object (str) for
            ids, bool for flags, float64 for probabilities, int64 for positions.
        null: bool, shape (n,): True where the row's list itself is null.
    """

    lengths: np.ndarray
    values: np.ndarray
    null: np.ndarray

    @cached_property
    def offsets(self) -> np.ndarray:
        """int64, shape (n + 1,): where each row starts in ``values``."""
        return np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)

    @cached_property
    def rows(self) -> np.ndarray:
        """int64, shape (total,): the row of each entry."""
        return np.repeat(np.arange(len(self.lengths), dtype=np.int64), self.lengths)

    @cached_property
    def within_row(self) -> np.ndarray:
        """int64, shape (total,): each entry's 0-based place in its row's list."""
        return np.arange(len(self.values), dtype=np.int64) - self.offsets[self.rows]

    def with_values(self, values: np.ndarray) -> FlatList:
        """The same rows holding other entries of the same count."""
        return FlatList(self.lengths, values, self.null)


def flatten(
    series: pd.Series, column: str, kind: Kind, file: str, problems: Problems | None = None
) -> FlatList:
    """Flatten and check one list column.

    Args:
        series: The column, shape (n,): lists, tuples or 1-d arrays, or null.
        column: Its name, for errors.
        kind: What the entries are: ``"id"`` (str or int, stored as str), ``"flag"``
            (bool or 0/1), ``"probability"`` (a number in (0, 1], no NaN), ``"position"``
            (int >= 1).
        file: The file name, for errors.
        problems: Where to report (default: raise the first).

    Reports:
        A row that is not a list, or an entry of the wrong type, null, or out of range;
        naming the row. In collecting mode a row that is not a list becomes null, and a
        column whose entries have the wrong type becomes all null.
    """
    problems = raising(problems)
    array = _to_arrow(series, column, kind, file, problems)
    if pa.types.is_null(array.type):
        return _all_null(len(array), kind)
    if not (pa.types.is_list(array.type) or pa.types.is_large_list(array.type)):
        array = _coerce_rows(series, column, kind, file, problems)
    lengths = pc.list_value_length(array).fill_null(0).to_numpy().astype(np.int64)
    null = np.asarray(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    flat = FlatList(lengths, np.empty(0), null)
    values = _check_values(array.flatten(), flat.rows, column, kind, file, problems)
    if values is None:
        return _all_null(len(lengths), kind)
    return flat.with_values(values)


def _all_null(n: int, kind: Kind) -> FlatList:
    return FlatList(np.zeros(n, np.int64), np.empty(0, _DTYPES[kind]), np.ones(n, bool))


def to_lists(flat: FlatList) -> list[Any]:
    """The rows as Python lists (None for a null row)."""
    values = pa.array(flat.values, type=_ARROW_TYPES[_kind_of(flat.values)])
    mask = pa.array(flat.null) if flat.null.any() else None
    return pa.ListArray.from_arrays(
        pa.array(flat.offsets.astype(np.int32)), values, mask=mask
    ).to_pylist()


def _kind_of(values: np.ndarray) -> str:
    if values.dtype == np.bool_:
        return "flag"
    if values.dtype == np.int64:
        return "position"
    if values.dtype == np.float64:
        return "probability"
    return "id"


def _to_arrow(
    series: pd.Series, column: str, kind: Kind, file: str, problems: Problems
) -> pa.Array:
    """One Arrow array for the column; NaN inside lists stays NaN (not null)."""
    try:
        if isinstance(series.dtype, pd.ArrowDtype):
            array = pa.array(series)
        else:
            array = pa.array(series.to_numpy(dtype=object), from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return _coerce_rows(series, column, kind, file, problems)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _coerce_rows(
    series: pd.Series, column: str, kind: Kind, file: str, problems: Problems
) -> pa.Array:
    """The slow path for columns that mix types: coerce each entry, row by row. Rows
    with a bad entry are reported together (the first one's problem) and become null."""
    rows: list[list[Any] | None] = []
    bad: list[int] = []
    first: DataValidationError | None = None
    for row, value in enumerate(series.to_numpy(dtype=object)):
        try:
            rows.append(_coerce_row(value, kind, row, column, file))
        except DataValidationError as error:
            if not problems.collect:
                raise
            first = first or error
            bad.append(row)
            rows.append(None)
    if first is not None:
        marks = np.zeros(len(rows), dtype=bool)
        marks[bad] = True
        problems.rows(marks, file, first.problem, first.fix, column)
    return pa.array(rows, type=pa.list_(_ARROW_TYPES[kind]))


def _coerce_row(value: Any, kind: Kind, row: int, column: str, file: str) -> list[Any] | None:
    if value is None or (np.ndim(value) == 0 and pd.isna(value)):
        return None
    if not isinstance(value, list | tuple | np.ndarray):
        raise DataValidationError(
            file,
            f"holds {value!r}, not a list",
            f"store '{column}' as a list per page",
            row=row,
            column=column,
        )
    return [_coerce(v, kind, row, column, file) for v in value]


def _coerce(value: Any, kind: Kind, row: int, column: str, file: str) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None if kind != "probability" else float("nan")
    is_bool = isinstance(value, bool | np.bool_)
    if kind == "id" and isinstance(value, str | Integral) and not is_bool:
        return str(value)
    if kind == "flag" and (is_bool or (isinstance(value, Real) and value in (0, 1))):
        return bool(value)
    if kind == "probability" and isinstance(value, Real) and not is_bool:
        return float(value)
    if kind == "position" and isinstance(value, Integral) and not is_bool:
        return int(value)
    raise _bad_entry(value, row, column, kind, file)


def _bad_entry(value: Any, row: int, column: str, kind: Kind, file: str) -> DataValidationError:
    return DataValidationError(
        file,
        f"holds {value!r} of type {type(value).__name__}",
        _FIXES[kind],
        row=row,
        column=column,
    )


def _check_values(
    values: pa.Array, rows: np.ndarray, column: str, kind: Kind, file: str, problems: Problems
) -> np.ndarray | None:
    """Entries as numpy, of the kind's dtype, every bad one reported; None (in collecting
    mode) when the entries have the wrong type altogether."""
    vtype = values.type
    numeric = pa.types.is_integer(vtype) or pa.types.is_floating(vtype)
    allowed = {
        "id": pa.types.is_string(vtype)
        or pa.types.is_large_string(vtype)
        or pa.types.is_integer(vtype),
        "flag": pa.types.is_boolean(vtype) or numeric,
        "probability": numeric,
        "position": pa.types.is_integer(vtype),
    }[kind]
    if len(values) and not allowed:
        first = values[0].as_py()
        problems.add(_bad_entry(first, int(rows[0]), column, kind, file))
        return None
    missing = np.asarray(values.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if kind != "probability":
        problems.rows(missing, file, "holds a null entry", _FIXES[kind], column, rows)
        if missing.any():
            values = pc.fill_null(values, _filler(vtype))
    array = values.to_numpy(zero_copy_only=False)
    if kind == "id":
        return array.astype(str).astype(object) if pa.types.is_integer(vtype) else array
    return check_range(array, rows, column, kind, file, problems)


def _filler(vtype: pa.DataType) -> pa.Scalar:
    """A harmless value of ``vtype`` for null entries that were already reported."""
    if pa.types.is_boolean(vtype):
        return pa.scalar(False)
    if pa.types.is_integer(vtype) or pa.types.is_floating(vtype):
        return pa.scalar(1, type=vtype)
    return pa.scalar("", type=vtype)


def check_range(
    array: np.ndarray,
    rows: np.ndarray,
    column: str,
    kind: Kind,
    file: str,
    problems: Problems | None = None,
) -> np.ndarray:
    """Entries of a flag, probability or position column, each in its range.

    Args:
        array: The entries, shape (m,).
        rows: int64, shape (m,): the data row of each entry.
        column: The column, for errors.
        kind: ``"flag"``, ``"probability"`` or ``"position"``.
        file: The file, for errors.
        problems: Where to report (default: raise the first).

    Returns:
        The entries in the kind's dtype (bool, float64 or int64); in collecting mode bad
        ones are kept as they are (0 and 1 for flags).
    """
    problems = raising(problems)
    if kind == "flag":
        bad = ~np.isin(array, (0, 1))
        fix = _FIXES[kind]
    elif kind == "probability":
        array = array.astype(np.float64)
        bad = np.isnan(array) | (array <= 0) | (array > 1)
        fix = (
            "propensities must be in (0, 1]: the logging policy's probability of showing "
            "the item at that position; make the whole list null when unknown"
        )
    else:
        bad = array < 1
        fix = _FIXES[kind]
    problems.rows(bad, file, lambda at: f"holds {plain(array[at])!r}", fix, column, rows)
    if kind == "flag":
        array = np.where(bad, 0, array)
    return array.astype(_DTYPES[kind])
