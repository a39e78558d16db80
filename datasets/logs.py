"""fusionrank's log schema: one row per result page shown, stored as parquet.

=================== ========= ===========================================================
column              required  rule
=================== ========= ===========================================================
``session_id``      yes       str or int (stored as str), non-null
``query_id``        yes       str or int (stored as str), non-null
``query_text``      yes       non-empty str
``timestamp``       yes       datetime64 (naive = UTC, or tz-aware) or seconds since the
                              epoch (numeric, stored as float64)
``item_ids``        yes       list of str or int (stored as str), top first; non-empty;
                              no item twice on a page
``clicks``          yes       list of bool or 0/1, one per item
``purchases``       no        list of bool or 0/1, one per item; only where clicked
``propensities``    no        list of float in (0, 1], one per item; a null list means
                              unknown for that page; NaN inside a list is refused
``positions``       no        list of int >= 1, strictly increasing, one per item;
                              default 1 .. len (so one impression at position 3 is
                              ``item_ids=[x], positions=[3]``)
``page``            no        int >= 0, default 0: the result page within the query
``policy``          no        str, default ``"unknown"``: the logging policy's name
anything else       no        kept as it is
=================== ========= ===========================================================
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fusionrank.datasets.errors import (
    DataValidationError,
    first_row,
    id_strings,
    require_columns,
    text_column,
)
from fusionrank.datasets.lists import FlatList, Kind, flatten, to_lists
from fusionrank.io import atomic_path
from fusionrank.types import PAD, Catalog, LoggedPages

logger = logging.getLogger(__name__)

REQUIRED = {
    "session_id": "add a 'session_id' column that groups the pages of one user session",
    "query_id": "add a 'query_id' column that identifies each page's query",
    "query_text": "add a 'query_text' column with the text the user typed",
    "timestamp": "add a 'timestamp' column (datetime, or seconds since the epoch)",
    "item_ids": "add an 'item_ids' column: the list of item ids shown on each page, top first",
    "clicks": "add a 'clicks' column: a list of bool per page, one per shown item",
}
OPTIONAL_LISTS = ("purchases", "propensities", "positions")
SCHEMA_COLUMNS = (*REQUIRED, *OPTIONAL_LISTS, "page", "policy")
DEFAULT_POLICY = "unknown"
_LIST_KINDS: dict[str, Kind] = {
    "item_ids": "id",
    "clicks": "flag",
    "purchases": "flag",
    "propensities": "probability",
    "positions": "position",
}


def validate_logs(
    df: pd.DataFrame, file: str = "logs", catalog: Catalog | None = None
) -> pd.DataFrame:
    """Check a log table and return a normalised copy.

    The copy has the schema's columns first (ids as str, list columns as Python lists,
    ``positions``, ``page`` and ``policy`` filled with their defaults), then the extra
    columns unchanged. ``purchases`` and ``propensities`` are added only when present.

    Args:
        df: One row per result page (see the module docstring).
        file: Name used in errors.
        catalog: When given, every shown item id must be in it.

    Raises:
        DataValidationError: On the first broken rule, naming row, column and fix.
    """
    scalars, lists = _check(df, file, catalog)
    out = pd.DataFrame(scalars)
    for column, flat in lists.items():
        out[column] = to_lists(flat)
    out = out[[c for c in SCHEMA_COLUMNS if c in out.columns]]
    extras = [c for c in df.columns if c not in SCHEMA_COLUMNS]
    for column in extras:
        out[column] = df[column].to_numpy()
    return out


def load_logs(path: str | Path, catalog: Catalog | None = None) -> pd.DataFrame:
    """Read and validate a parquet log file.

    Args:
        path: A ``.parquet`` file in the log schema.
        catalog: When given, every shown item id must be in it.

    Returns:
        The normalised table (see :func:`validate_logs`).

    Raises:
        DataValidationError: When the file is missing, not parquet or breaks the schema.
    """
    path = Path(path)
    _check_log_path(path)
    if not path.is_file():
        raise DataValidationError(
            str(path), "does not exist", "check the path; logs are one .parquet file"
        )
    try:
        frame = pd.read_parquet(path)
    except (ValueError, OSError) as error:
        raise DataValidationError(
            str(path),
            f"cannot be read as parquet ({error})",
            "check that the file is a complete parquet file",
        ) from error
    validated = validate_logs(frame, file=str(path), catalog=catalog)
    logger.info("logs %s: %d pages", path, len(validated))
    return validated


def write_logs(df: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Validate ``df`` and write it as parquet atomically.

    A frame that fails validation writes nothing, and an existing file at ``path`` is
    replaced only once the new one is complete.

    Returns:
        The normalised table that was written.
    """
    path = Path(path)
    _check_log_path(path)
    validated = validate_logs(df, file=str(path))
    with atomic_path(path) as tmp:
        validated.to_parquet(tmp, index=False)
    return validated


def _check_log_path(path: Path) -> None:
    if path.suffix.lower() != ".parquet":
        raise DataValidationError(
            str(path),
            f"has suffix '{path.suffix}'; logs must be parquet (their list columns need it)",
            "convert the table with pandas' DataFrame.to_parquet to a .parquet file",
        )


def logs_to_pages(df: pd.DataFrame, catalog: Catalog | None = None) -> LoggedPages:
    """Logged pages as padded arrays.

    Args:
        df: A log table (it is validated again, without building Python lists).
        catalog: Item indices are catalog rows when given; otherwise indices into the
            log's item ids in order of first appearance.

    Returns:
        Pages whose (N, L) arrays put position ``r + 1`` in column ``r``, L being the
        largest position. Sessions and queries are numbered in order of first
        appearance; a query's text is that of its first page.

    Raises:
        DataValidationError: On a broken rule, or an item id that is not in the catalog.
    """
    scalars, lists = _check(df, "logs", catalog)
    items, positions = lists["item_ids"], lists["positions"]
    n = len(scalars["session_id"])
    width = int(positions.values.max()) if positions.values.size else 0
    rows, cols = items.rows, positions.values.astype(np.int64) - 1
    if catalog is not None:
        index = pd.Index(catalog.item_ids).get_indexer(items.values)
        item_ids = catalog.item_ids
    else:
        index, uniques = pd.factorize(items.values)
        item_ids = np.asarray(uniques, dtype=object)
    item_index = np.full((n, width), PAD, dtype=np.int64)
    item_index[rows, cols] = index
    grids = {}
    for column in ("clicks", "purchases"):
        grids[column] = np.zeros((n, width), dtype=bool)
        if column in lists:
            grids[column][rows, cols] = lists[column].values
    propensities = np.full((n, width), np.nan)
    if "propensities" in lists:
        known = ~lists["propensities"].null[rows]
        propensities[rows[known], cols[known]] = lists["propensities"].values
    query, query_ids = pd.factorize(scalars["query_id"])
    first = np.unique(query, return_index=True)[1]
    return LoggedPages(
        session=pd.factorize(scalars["session_id"])[0].astype(np.int64),
        query=query.astype(np.int64),
        page=scalars["page"].to_numpy(np.int64),
        item_index=item_index,
        clicks=grids["clicks"],
        purchases=grids["purchases"],
        propensities=propensities,
        timestamp=timestamp_seconds(scalars["timestamp"]),
        query_ids=np.asarray(query_ids, dtype=object),
        query_texts=scalars["query_text"].to_numpy(dtype=object)[first],
        item_ids=np.asarray(item_ids, dtype=object),
        policy=scalars["policy"].to_numpy(dtype=object),
        has_purchases="purchases" in lists,
        has_propensities="propensities" in lists and not lists["propensities"].null.all(),
    )


def timestamp_seconds(timestamps: pd.Series) -> np.ndarray:
    """Validated timestamps as float64 seconds since the epoch, shape (n,); naive
    datetimes are read as UTC."""
    if pd.api.types.is_datetime64_any_dtype(timestamps.dtype):
        micros = timestamps.to_numpy(dtype="datetime64[us]").astype(np.int64)
        return micros.astype(np.float64) / 1e6
    return timestamps.to_numpy(dtype=np.float64)


def summarize_logs(df: pd.DataFrame) -> dict[str, Any]:
    """Figures that describe a log table, for ``fusionrank data validate``.

    Returns:
        pages, sessions, queries, distinct items, positions (the page width), clicks per
        page, CTR by position (clicks / impressions at each position), purchases and
        purchases per page (only when recorded), propensities (recorded or not, and on
        how many pages) and pages per policy.
    """
    pages = logs_to_pages(df)
    n = max(len(pages), 1)
    shown = pages.shown
    impressions = np.maximum(shown.sum(0), 1)
    summary: dict[str, Any] = {
        "pages": len(pages),
        "sessions": len(np.unique(pages.session)),
        "queries": len(pages.query_ids),
        "distinct items": len(pages.item_ids),
        "positions": pages.slate_size,
        "clicks per page": float(pages.clicks.sum() / n),
        "CTR by position": (pages.clicks.sum(0) / impressions).round(4).tolist(),
    }
    if pages.has_purchases:
        summary["purchases"] = int(pages.purchases.sum())
        summary["purchases per page"] = float(pages.purchases.sum() / n)
    known = np.isfinite(pages.propensities).any(axis=1)
    summary["propensities"] = (
        f"yes, on {int(known.sum())} of {len(pages)} pages" if pages.has_propensities else "no"
    )
    policies, counts = np.unique(pages.policy.astype(str), return_counts=True)
    summary["policies"] = dict(zip(policies.tolist(), counts.tolist(), strict=True))
    return summary


def _check(
    df: pd.DataFrame, file: str, catalog: Catalog | None
) -> tuple[dict[str, pd.Series], dict[str, FlatList]]:
    """Validate ``df``: the normalised scalar columns and the flattened list columns
    (``positions`` always present)."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"logs must be a pandas DataFrame, got {type(df).__name__}")
    require_columns(df, REQUIRED, file)
    df = df.reset_index(drop=True)
    scalars = {
        "session_id": id_strings(
            df["session_id"], "session_id", file, "give every page the id of its session"
        ),
        "query_id": id_strings(df["query_id"], "query_id", file, "give every page its query id"),
        "query_text": text_column(
            df["query_text"],
            "query_text",
            file,
            "give every page the query text the user typed",
            allow_empty=False,
        ),
        "timestamp": _timestamps(df["timestamp"], file),
        "page": _pages(df, file),
        "policy": _policies(df, file),
    }
    lists = {c: flatten(df[c], c, _LIST_KINDS[c], file) for c in _LIST_KINDS if c in df.columns}
    _check_lists(lists, file)
    if catalog is not None:
        _check_in_catalog(lists["item_ids"], catalog, file)
    return scalars, lists


def _check_lists(lists: dict[str, FlatList], file: str) -> None:
    """Cross-column rules: non-empty item lists, no repeats, equal lengths, purchases
    only where clicked, increasing positions. Fills default positions."""
    items = lists["item_ids"]
    for column, flat in lists.items():
        if column != "propensities":
            row = first_row(flat.null)
            if row is not None:
                raise DataValidationError(
                    file,
                    "is null",
                    "give a list per page, one entry per shown item",
                    row=row,
                    column=column,
                )
    row = first_row(items.lengths == 0)
    if row is not None:
        raise DataValidationError(
            file, "is an empty list", "drop pages that showed no items", row=row, column="item_ids"
        )
    repeated = pd.DataFrame({"row": items.rows, "id": items.values}).duplicated().to_numpy()
    at = first_row(repeated)
    if at is not None:
        raise DataValidationError(
            file,
            f"shows item '{items.values[at]}' twice",
            "an item may appear once per page; drop the repeat",
            row=int(items.rows[at]),
            column="item_ids",
        )
    for column, flat in lists.items():
        mismatch = (flat.lengths != items.lengths) & ~flat.null
        row = first_row(mismatch)
        if row is not None:
            raise DataValidationError(
                file,
                f"has {flat.lengths[row]} entries but item_ids has {items.lengths[row]}",
                "give one entry per shown item",
                row=row,
                column=column,
            )
    if "positions" not in lists:
        lists["positions"] = items.with_values(items.within_row + 1)
    _check_positions(lists["positions"], file)
    if "purchases" in lists:
        _check_purchases(lists, file)


def _check_positions(positions: FlatList, file: str) -> None:
    values = positions.values
    same_row = positions.rows[1:] == positions.rows[:-1]
    at = first_row(same_row & (values[1:] <= values[:-1]))
    if at is not None:
        row = int(positions.rows[at + 1])
        shown = values[positions.rows == row].tolist()
        raise DataValidationError(
            file,
            f"is not strictly increasing ({shown})",
            "list the items top first with their 1-based positions",
            row=row,
            column="positions",
        )


def _check_purchases(lists: dict[str, FlatList], file: str) -> None:
    bought = lists["purchases"].values & ~lists["clicks"].values
    at = first_row(bought)
    if at is not None:
        position = int(lists["positions"].values[at])
        raise DataValidationError(
            file,
            f"has a purchase at position {position} without a click",
            "a purchase needs a click on the same item; correct the clicks or purchases",
            row=int(lists["purchases"].rows[at]),
            column="purchases",
        )


def _check_in_catalog(items: FlatList, catalog: Catalog, file: str) -> None:
    index = pd.Index(catalog.item_ids).get_indexer(items.values)
    at = first_row(index < 0)
    if at is not None:
        raise DataValidationError(
            file,
            f"item '{items.values[at]}' is not in the catalog",
            "add the item to the catalog or drop the pages that show it",
            row=int(items.rows[at]),
            column="item_ids",
        )


def _timestamps(series: pd.Series, file: str) -> pd.Series:
    """Datetimes as they are; numbers as float64 seconds."""
    fix = "store the time as a datetime or as seconds since the epoch"
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        row = first_row(series.isna().to_numpy())
        if row is not None:
            raise DataValidationError(file, "is empty", fix, row=row, column="timestamp")
        return series
    if pd.api.types.is_bool_dtype(series.dtype) or not pd.api.types.is_numeric_dtype(series.dtype):
        raise DataValidationError(
            file, f"has type {series.dtype}, not datetime or number", fix, column="timestamp"
        )
    seconds = series.astype(np.float64)
    row = first_row(~np.isfinite(seconds.to_numpy()))
    if row is not None:
        problem = "is empty" if np.isnan(seconds.iloc[row]) else f"holds {seconds.iloc[row]}"
        raise DataValidationError(file, problem, fix, row=row, column="timestamp")
    return seconds


def _pages(df: pd.DataFrame, file: str) -> pd.Series:
    if "page" not in df.columns:
        return pd.Series(np.zeros(len(df), dtype=np.int64))
    series = df["page"]
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 0) | (values % 1 != 0)
    row = 0 if len(df) and pd.api.types.is_bool_dtype(series.dtype) else first_row(bad)
    if row is not None:
        raise DataValidationError(
            file,
            f"holds {series.iloc[row]!r}",
            "number the result pages of a query 0, 1, 2, ... (integers >= 0)",
            row=row,
            column="page",
        )
    return pd.Series(values.astype(np.int64))


def _policies(df: pd.DataFrame, file: str) -> pd.Series:
    if "policy" not in df.columns:
        return pd.Series(np.full(len(df), DEFAULT_POLICY, dtype=object), dtype=str)
    text = text_column(df["policy"], "policy", file, "name the policy as text", allow_empty=True)
    return text.where(text.str.strip() != "", DEFAULT_POLICY)
