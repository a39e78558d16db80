"""The rules of the log schema (:mod:`fusionrank.datasets.logs`), checked column by column
and across columns, reporting to a :class:`~fusionrank.datasets.errors.Problems`.

Raising (the default) stops at the first broken rule; collecting goes on, and a rule that
needs a column with an error (e.g. purchases-need-clicks after a ragged ``clicks`` row)
is skipped rather than reported twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np
import pandas as pd

from fusionrank.datasets.errors import (
    DataValidationError,
    Problems,
    id_strings,
    plain,
    raising,
    require_columns,
    text_column,
)
from fusionrank.datasets.lists import FlatList, Kind, flatten

logger = logging.getLogger(__name__)

REQUIRED = {
    "session_id": "add a 'session_id' column that groups the pages of one user session",
    "query_id": "add a 'query_id' column that identifies each page's query",
    "query_text": "add a 'query_text' column with the text the user typed",
    "timestamp": "add a 'timestamp' column (datetime, or seconds since the epoch)",
    "item_ids": "add an 'item_ids' column: the list of item ids shown on each page, top first",
    "clicks": "add a 'clicks' column: a list of bool per page, one per shown item",
}
DEFAULT_POLICY = "unknown"
LIST_KINDS: dict[str, Kind] = {
    "item_ids": "id",
    "clicks": "flag",
    "purchases": "flag",
    "propensities": "probability",
    "positions": "position",
}
TIMESTAMP_FIX = "store the time as a datetime or as seconds since the epoch"


def check_log_table(
    df: pd.DataFrame,
    file: str,
    catalog_ids: np.ndarray | None,
    problems: Problems | None = None,
) -> tuple[dict[str, pd.Series], dict[str, FlatList]]:
    """Check ``df`` against the schema.

    Args:
        df: One row per result page.
        file: Name used in errors.
        catalog_ids: object, shape (n_items,): when given, every shown item must be one.
        problems: Where to report (default: raise the first).

    Returns:
        The normalised scalar columns and the flattened list columns (``positions``
        always present; absent columns, in collecting mode, are left out).
    """
    problems = raising(problems)
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"logs must be a pandas DataFrame, got {type(df).__name__}")
    require_columns(df, REQUIRED, file, problems)
    df = df.reset_index(drop=True)
    scalars = _scalars(df, file, problems)
    lists = {
        c: flatten(df[c], c, LIST_KINDS[c], file, problems) for c in LIST_KINDS if c in df.columns
    }
    if "item_ids" in lists and problems.ok(file, "item_ids"):
        _check_lists(lists, file, problems)
        if catalog_ids is not None:
            _check_in_catalog(lists["item_ids"], catalog_ids, file, problems)
    return scalars, lists


def _scalars(df: pd.DataFrame, file: str, problems: Problems) -> dict[str, pd.Series]:
    checks = {
        "session_id": lambda s: id_strings(
            s, "session_id", file, "give every page the id of its session", problems
        ),
        "query_id": lambda s: id_strings(
            s, "query_id", file, "give every page its query id", problems
        ),
        "query_text": lambda s: text_column(
            s,
            "query_text",
            file,
            "give every page the query text the user typed",
            allow_empty=False,
            problems=problems,
        ),
        "timestamp": lambda s: timestamps(s, file, problems),
    }
    scalars = {c: check(df[c]) for c, check in checks.items() if c in df.columns}
    scalars["page"] = page_numbers(df, file, problems)
    scalars["policy"] = policy_names(df, file, problems)
    return scalars


def _check_lists(lists: dict[str, FlatList], file: str, problems: Problems) -> None:
    """Cross-column rules: non-empty item lists, no repeats, equal lengths, purchases
    only where clicked, increasing positions. Fills default positions."""
    items = lists["item_ids"]
    for column, flat in lists.items():
        if column != "propensities":
            fix = "give a list per page, one entry per shown item"
            problems.rows(flat.null, file, "is null", fix, column)
    problems.rows(
        (items.lengths == 0) & ~items.null,
        file,
        "is an empty list",
        "drop pages that showed no items",
        "item_ids",
    )
    repeated = pd.DataFrame({"row": items.rows, "id": items.values}).duplicated().to_numpy()
    problems.rows(
        repeated,
        file,
        lambda at: f"shows item '{items.values[at]}' twice",
        "an item may appear once per page; drop the repeat",
        "item_ids",
        items.rows,
    )
    for column, flat in lists.items():
        mismatch = (flat.lengths != items.lengths) & ~flat.null & ~items.null
        problems.rows(
            mismatch, file, _length_problem(flat, items), "give one entry per shown item", column
        )
    if "positions" not in lists:
        lists["positions"] = items.with_values(items.within_row + 1)
    elif problems.ok(file, "positions"):
        _check_positions(lists["positions"], file, problems)
    if "purchases" in lists and problems.ok(file, "purchases", "clicks", "positions"):
        _check_purchases(lists, file, problems)


def _length_problem(flat: FlatList, items: FlatList) -> Callable[[int], str]:
    return lambda at: f"has {flat.lengths[at]} entries but item_ids has {items.lengths[at]}"


def _check_positions(positions: FlatList, file: str, problems: Problems) -> None:
    values = positions.values
    same_row = positions.rows[1:] == positions.rows[:-1]
    down = np.r_[False, same_row & (values[1:] <= values[:-1])]

    def problem(at: int) -> str:
        shown = values[positions.rows == positions.rows[at]].tolist()
        return f"is not strictly increasing ({shown})"

    problems.rows(
        down,
        file,
        problem,
        "list the items top first with their 1-based positions",
        "positions",
        positions.rows,
    )


def _check_purchases(lists: dict[str, FlatList], file: str, problems: Problems) -> None:
    bought = lists["purchases"].values & ~lists["clicks"].values
    positions = lists["positions"].values
    problems.rows(
        bought,
        file,
        lambda at: f"has a purchase at position {int(positions[at])} without a click",
        "a purchase needs a click on the same item; correct the clicks or purchases",
        "purchases",
        lists["purchases"].rows,
    )


def _check_in_catalog(
    items: FlatList, catalog_ids: np.ndarray, file: str, problems: Problems
) -> None:
    index = pd.Index(catalog_ids).get_indexer(items.values)
    problems.rows(
        index < 0,
        file,
        lambda at: f"item '{items.values[at]}' is not in the catalog",
        "add the item to the catalog or drop the pages that show it",
        "item_ids",
        items.rows,
    )


def timestamps(
    series: pd.Series, file: str, problems: Problems | None = None, column: str = "timestamp"
) -> pd.Series:
    """Datetimes as they are; numbers as float64 seconds (zeros where broken)."""
    problems = raising(problems)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        problems.rows(series.isna().to_numpy(), file, "is empty", TIMESTAMP_FIX, column)
        return series
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        problems.add(
            DataValidationError(
                file,
                f"has type {series.dtype}, not datetime or number",
                TIMESTAMP_FIX,
                column=column,
            )
        )
        return pd.Series(np.zeros(len(series)))
    seconds = series.astype(np.float64)
    values = seconds.to_numpy()
    problems.rows(np.isnan(values), file, "is empty", TIMESTAMP_FIX, column)
    problems.rows(np.isinf(values), file, lambda at: f"holds {values[at]}", TIMESTAMP_FIX, column)
    return seconds


def page_numbers(
    df: pd.DataFrame, file: str, problems: Problems | None = None, column: str = "page"
) -> pd.Series:
    """The ``column`` of ``df`` as int64 page numbers (0 where absent or broken)."""
    problems = raising(problems)
    if column not in df.columns:
        return pd.Series(np.zeros(len(df), dtype=np.int64))
    series = df[column]
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 0) | (values % 1 != 0)
    if pd.api.types.is_bool_dtype(series.dtype):
        bad = np.ones(len(df), dtype=bool)
    problems.rows(
        bad,
        file,
        lambda at: f"holds {plain(series.iloc[at])!r}",
        "number the result pages of a query 0, 1, 2, ... (integers >= 0)",
        column,
    )
    return pd.Series(np.where(bad, 0, values).astype(np.int64))


def policy_names(
    df: pd.DataFrame, file: str, problems: Problems | None = None, column: str = "policy"
) -> pd.Series:
    """The ``column`` of ``df`` as str (:data:`DEFAULT_POLICY` where absent or empty)."""
    problems = raising(problems)
    if column not in df.columns:
        return pd.Series(np.full(len(df), DEFAULT_POLICY, dtype=object), dtype=str)
    text = text_column(
        df[column], column, file, "name the policy as text", allow_empty=True, problems=problems
    )
    return text.where(text.str.strip() != "", DEFAULT_POLICY)
