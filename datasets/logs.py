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

from fusionrank.datasets.errors import DataValidationError
from fusionrank.datasets.lists import FlatList, to_lists
from fusionrank.datasets.log_rules import DEFAULT_POLICY, REQUIRED, check_log_table
from fusionrank.io import atomic_path
from fusionrank.types import PAD, Catalog, LoggedPages

logger = logging.getLogger(__name__)

OPTIONAL_LISTS = ("purchases", "propensities", "positions")
SCHEMA_COLUMNS = (*REQUIRED, *OPTIONAL_LISTS, "page", "policy")
MISSING_FIX = (
    "check the path (in a run config it is data.logs, relative to the folder you run "
    "fusionrank in); logs are one .parquet file"
)
__all__ = [
    "DEFAULT_POLICY",
    "REQUIRED",
    "SCHEMA_COLUMNS",
    "load_logs",
    "logs_to_pages",
    "summarize_logs",
    "timestamp_seconds",
    "validate_logs",
    "write_logs",
]


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
        raise DataValidationError(str(path), "does not exist", MISSING_FIX)
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
    """Validate ``df`` (raising the first broken rule): the normalised scalar columns and
    the flattened list columns (``positions`` always present)."""
    ids = None if catalog is None else np.asarray(catalog.item_ids, dtype=object)
    return check_log_table(df, file, ids)
