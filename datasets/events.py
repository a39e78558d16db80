"""Event tables (one row per shown item) to the page schema of :mod:`fusionrank.datasets.logs`
and back.

Most search logs have one row per impression: a session, the query, the item, its
position, whether it was clicked and bought, when, and sometimes the logging policy's
propensity. :func:`events_to_pages` groups them into result pages: **the impressions of
one page share the session, the query, the page number (0 when there is no page column)
and the timestamp** (the time the page was shown); pages keep the order in which they
first appear, and a page's items are sorted by position. :func:`pages_to_events` is the
inverse, so pages -> events -> pages gives the same pages.

========================= ========= =====================================================
field (default column)    required  rule
========================= ========= =====================================================
session (session_id)      yes       str or int, non-empty
query_text (query_text)   yes       non-empty str
item (item_id)            yes       str or int, non-empty
position (position)       yes       int >= 1, 1-based within the page, once per page
clicked (clicked)         yes       bool or 0/1
timestamp (timestamp)     yes       datetime, ISO 8601 text, or seconds since the epoch
purchased (purchased)     no        bool or 0/1, only where clicked
propensity (propensity)   no        in (0, 1]; empty for every item of a page: unknown
query_id (query_id)       no        str or int; default: the query text
page (page)               no        int >= 0; default 0
policy (policy)           no        str
anything else             no        kept, per page (its value on the page's top item)
========================= ========= =====================================================

Every rule reports through :class:`~fusionrank.datasets.errors.Problems`, so errors name
the event row (the file line, for a CSV file) and the user's own column name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from fusionrank.datasets.errors import (
    DataValidationError,
    Problems,
    id_strings,
    plain,
    raising,
    require_columns,
    text_column,
)
from fusionrank.datasets.lists import Kind, check_range
from fusionrank.datasets.log_rules import page_numbers, policy_names, timestamps
from fusionrank.datasets.logs import validate_logs

logger = logging.getLogger(__name__)

REQUIRED_FIELDS = ("session", "query_text", "item", "position", "clicked", "timestamp")
# field -> the page-schema column it becomes
_PAGE_COLUMNS = {
    "session": "session_id",
    "query_id": "query_id",
    "query_text": "query_text",
    "timestamp": "timestamp",
    "item": "item_ids",
    "clicked": "clicks",
    "purchased": "purchases",
    "propensity": "propensities",
    "position": "positions",
    "page": "page",
    "policy": "policy",
}


@dataclass(frozen=True)
class EventColumns:
    """The column of the event table that holds each field (module docstring)."""

    session: str = "session_id"
    query_text: str = "query_text"
    item: str = "item_id"
    position: str = "position"
    clicked: str = "clicked"
    timestamp: str = "timestamp"
    purchased: str = "purchased"
    propensity: str = "propensity"
    query_id: str = "query_id"
    page: str = "page"
    policy: str = "policy"

    @classmethod
    def parse(cls, pairs: list[str] | None) -> EventColumns:
        """From ``["item=sku", "clicked=is_click"]`` (``FIELD=COLUMN``).

        Raises:
            ValueError: For a pair without ``=``, or an unknown field.
        """
        known = [f.name for f in fields(cls)]
        given: dict[str, str] = {}
        for pair in pairs or []:
            name, sep, column = pair.partition("=")
            if not sep or name.strip() not in known or not column.strip():
                raise ValueError(
                    f"--column {pair!r}: give FIELD=COLUMN with FIELD one of {', '.join(known)}"
                )
            given[name.strip()] = column.strip()
        return cls(**given)

    def field_of(self) -> dict[str, str]:
        """Column name -> field."""
        return {getattr(self, f.name): f.name for f in fields(self)}


def _required_fixes(columns: EventColumns) -> dict[str, str]:
    return {
        getattr(columns, name): (
            f"add the {name} column, or name the column that holds it with "
            f"--column {name}=COLUMN (EventColumns({name}=...))"
        )
        for name in REQUIRED_FIELDS
    }


def _flags(series: pd.Series, column: str, file: str, problems: Problems) -> np.ndarray:
    return _entries(series, column, "flag", file, problems)


def _entries(
    series: pd.Series, column: str, kind: Kind, file: str, problems: Problems
) -> np.ndarray:
    """A flag, probability or position per event, checked like a list entry."""
    rows = np.arange(len(series), dtype=np.int64)
    values = series.to_numpy()
    null = pd.isna(series).to_numpy()
    if kind != "probability":
        problems.rows(null, file, "is empty", "give a value on every row", column)
    if kind == "position":
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(np.float64)
        wrong = ~null & (np.isnan(numbers) | (numbers % 1 != 0))
        problems.rows(
            wrong,
            file,
            lambda at: f"holds {plain(values[at])!r}",
            "positions are integers >= 1",
            column,
        )
        values = np.where(wrong | null, 1, numbers).astype(np.int64)
    elif kind == "flag":
        values = np.where(null, False, _flag_values(series))
    elif kind == "probability":
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(np.float64)
        wrong = ~null & np.isnan(numbers)
        problems.rows(
            wrong,
            file,
            lambda at: f"holds {plain(values[at])!r}",
            "propensities are numbers",
            column,
        )
        values = np.where(null, 1.0, np.where(wrong, 1.0, numbers))
    checked = check_range(values, rows, column, kind, file, problems)
    if kind == "probability":
        return np.where(null, np.nan, checked)
    return checked


def _flag_values(series: pd.Series) -> np.ndarray:
    """Flags as numbers where they read as one (``"1"``, ``"true"``), else as given."""
    if not (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)):
        return series.to_numpy()
    words = series.map(
        lambda v: {"true": 1, "false": 0}.get(v.lower(), v) if isinstance(v, str) else v
    )
    numbers = pd.to_numeric(words, errors="coerce")
    return np.where(numbers.notna(), numbers, words).astype(object)


def _event_timestamps(series: pd.Series, column: str, file: str, problems: Problems) -> pd.Series:
    """Datetimes or seconds; text is read as ISO 8601 datetimes."""
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        parsed = pd.to_datetime(series, errors="coerce", format="ISO8601")
        bad = parsed.isna().to_numpy() & series.notna().to_numpy()
        problems.rows(
            bad,
            file,
            lambda at: f"holds {series.iloc[at]!r}, which is not a time",
            "write times as ISO 8601 (2024-03-01 08:00:00) or seconds since the epoch",
            column,
        )
        series = parsed.mask(bad, pd.Timestamp(0, tz=parsed.dt.tz))
    return timestamps(series, file, problems, column)


def _check_events(
    events: pd.DataFrame, columns: EventColumns, file: str, problems: Problems
) -> dict[str, Any]:
    """Every per-event rule; returns the normalised values per field."""
    names = {f.name: getattr(columns, f.name) for f in fields(columns)}
    present = {name: col for name, col in names.items() if col in events.columns}
    out: dict[str, Any] = {}
    out["session"] = id_strings(
        events[present["session"]], present["session"], file, "give every event its session",
        problems,
    )  # fmt: skip
    out["query_text"] = text_column(
        events[present["query_text"]], present["query_text"], file,
        "give every event the query text the user typed", allow_empty=False, problems=problems,
    )  # fmt: skip
    if "query_id" in present:
        out["query_id"] = id_strings(
            events[present["query_id"]], present["query_id"], file, "give every event its query",
            problems,
        )  # fmt: skip
    else:
        out["query_id"] = out["query_text"]
    out["item"] = id_strings(
        events[present["item"]], present["item"], file, "give every event the shown item's id",
        problems,
    )  # fmt: skip
    kinds: tuple[tuple[str, Kind], ...] = (
        ("position", "position"), ("clicked", "flag"), ("purchased", "flag"),
        ("propensity", "probability"),
    )  # fmt: skip
    for name, kind in kinds:
        if name in present:
            out[name] = _entries(events[present[name]], present[name], kind, file, problems)
    if "purchased" in out:
        problems.rows(
            out["purchased"] & ~out["clicked"],
            file,
            "is a purchase without a click",
            "a purchase needs a click on the same item; correct the clicks or purchases",
            present["purchased"],
        )
    out["timestamp"] = _event_timestamps(
        events[present["timestamp"]], present["timestamp"], file, problems
    )
    out["page"] = page_numbers(events, file, problems, columns.page)
    if "policy" in present:
        out["policy"] = policy_names(events, file, problems, columns.policy)
    return out


def _page_of(values: dict[str, Any]) -> np.ndarray:
    """int64 (n_events,): each event's page, numbered in order of first appearance."""
    keys = pd.DataFrame(
        {
            "session": values["session"].to_numpy(),
            "query": values["query_id"].to_numpy(),
            "page": values["page"].to_numpy(),
            "time": values["timestamp"].to_numpy(),
        }
    )
    return keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy(np.int64)


def _twice(label: str, column: np.ndarray) -> Callable[[int], str]:
    return lambda at: f"{label.format(plain(column[at]))} appears twice on one page"


def _check_pages(
    values: dict[str, Any], page: np.ndarray, columns: EventColumns, file: str, problems: Problems
) -> None:
    """Rules across the events of a page: a position and an item once each, propensities
    known for all items of a page or none."""
    for name, label in (("position", "position {}"), ("item", "item '{}'")):
        column = values[name] if name == "position" else values[name].to_numpy()
        repeated = pd.DataFrame({"page": page, "v": column}).duplicated().to_numpy()
        problems.rows(
            repeated,
            file,
            _twice(label, column),
            "a page shows each item once, at one position; drop the repeat (a page is the "
            "rows with the same session, query, page and timestamp)",
            getattr(columns, name),
        )
    if "propensity" in values:
        unknown = np.isnan(values["propensity"])
        share = np.bincount(page, unknown) / np.bincount(page)
        problems.rows(
            unknown & (share[page] < 1),
            file,
            "is empty while other items of its page have one",
            "give every item of a page its propensity, or none of them",
            columns.propensity,
        )


def events_to_pages(
    events: pd.DataFrame,
    columns: EventColumns | None = None,
    file: str = "events",
    problems: Problems | None = None,
) -> pd.DataFrame | None:
    """Group an event table into result pages (module docstring).

    Args:
        events: One row per shown item.
        columns: Which column holds each field (default :class:`EventColumns`).
        file: Name used in errors.
        problems: Where to report (default: raise the first).

    Returns:
        The validated page table (:func:`~fusionrank.datasets.logs.validate_logs`), or
        None in collecting mode when an event breaks a rule.
    """
    columns = columns or EventColumns()
    problems = raising(problems)
    before = problems.n_errors
    require_columns(events, _required_fixes(columns), file, problems)
    if problems.n_errors > before:
        return None
    events = events.reset_index(drop=True)
    values = _check_events(events, columns, file, problems)
    if problems.n_errors > before:
        return None
    page = _page_of(values)
    _check_pages(values, page, columns, file, problems)
    if problems.n_errors > before:
        return None
    return validate_logs(_assemble(events, values, page, columns), file)


def _assemble(
    events: pd.DataFrame, values: dict[str, Any], page: np.ndarray, columns: EventColumns
) -> pd.DataFrame:
    """The page table: scalars from each page's first event, lists in position order."""
    order = np.lexsort((values["position"], page))
    counts = np.bincount(page)
    offsets = pa.array(np.r_[0, np.cumsum(counts)].astype(np.int32))
    first = order[np.r_[0, np.cumsum(counts)[:-1]]]
    table: dict[str, Any] = {}
    for name in ("session", "query_id", "query_text", "timestamp", "page", "policy"):
        if name in values:
            series = values[name]
            table[_PAGE_COLUMNS[name]] = series.iloc[first].reset_index(drop=True)
    for name in ("item", "clicked", "purchased", "propensity", "position"):
        if name in values:
            entries = np.asarray(values[name])[order]
            lists = pa.ListArray.from_arrays(offsets, pa.array(entries)).to_pylist()
            table[_PAGE_COLUMNS[name]] = lists
    if "propensities" in table:
        table["propensities"] = [None if np.isnan(p[0]) else p for p in table["propensities"]]
    used = {getattr(columns, f.name) for f in fields(columns)}
    for column in events.columns:
        if column not in used:
            table[column] = events[column].iloc[first].reset_index(drop=True)
    return pd.DataFrame(table)


def pages_to_events(pages: pd.DataFrame) -> pd.DataFrame:
    """One row per shown item of a page table, in :class:`EventColumns`' default names;
    :func:`events_to_pages` turns it back into the same pages.

    Args:
        pages: A log table in the page schema (it is validated first).
    """
    pages = validate_logs(pages, "pages")
    lengths = pages["item_ids"].map(len).to_numpy()
    rows = np.repeat(np.arange(len(pages)), lengths)
    names = {v: k for k, v in _PAGE_COLUMNS.items()}
    defaults = EventColumns()
    out: dict[str, Any] = {}
    for column in pages.columns:
        if column in ("item_ids", "clicks", "purchases", "propensities", "positions"):
            continue
        target = getattr(defaults, names[column]) if column in names else column
        out[target] = pages[column].to_numpy()[rows]
    for column in ("item_ids", "clicks", "purchases", "propensities", "positions"):
        if column not in pages.columns:
            continue
        lists = pages[column].tolist()
        if column == "propensities":
            lists = [[np.nan] * n if p is None else p for p, n in zip(lists, lengths, strict=True)]
        target = getattr(defaults, names[column])
        out[target] = np.concatenate([np.asarray(v) for v in lists]) if len(lists) else []
    return pd.DataFrame(out)


__all__ = ["DataValidationError", "EventColumns", "events_to_pages", "pages_to_events"]
