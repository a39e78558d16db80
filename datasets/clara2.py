"""The CLARA2 click log (Yandex relevance-prediction format) and its editorial labels.

Search log: tab-separated lines of two kinds, in session order,

* query line ``session time Q query_id region url_1 .. url_10``: one result page;
* click line ``session time C url_id`` (padded with empty fields to the same width).

Conversion to fusionrank's log schema, one row per query line:

* ``session_id``, ``query_id``: the fields as str; ``query_text`` is ``"q<query_id>"``
  because the data holds no query text; ``page`` 0 (each query line is a first result
  page, repeated query lines in a session are new searches); ``policy`` ``"clara2"``;
  no purchases, no propensities; ``region`` is kept as an extra column.
* ``timestamp``: the time field / 1000. The unit is not documented; milliseconds is
  the reading that fits the data: time starts at 0 on the first line and ends at
  7.1e9 (82 days), the median gap from a query line to a click on it is 3,205 (3.2 s),
  its 5th percentile 186 (0.19 s). So timestamps are seconds since the log's start,
  not since the Unix epoch.
* clicks: a click line is attributed to the session's latest query line (the page on
  screen), as PyClick's parser does; a click on a url that page does not show is
  dropped (724 of the 11,613 click lines). ``click_counts`` (extra column, list of
  int) keeps how many click lines hit each url, repeats included; ``clicks`` is
  ``click_counts > 0``.
* a url shown twice on one page (90 of 31,564 pages) keeps only its last rank, and
  clicks on it go there; the earlier rank is left out (``positions`` skips it), since
  the log schema allows an item once per page.

With these rules the loader reproduces the data README's figures: 31,564 result pages,
and click lines per rank 1..10 of 5618, 2180, 1074, 584, 525, 259, 207, 180, 131, 131.

Relevance labels: ``query url relevance`` with a header, grades 1-5 (3 labels are 0).
Their query ids do not match the log's (see :func:`map_label_queries`).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.datasets.errors import DataValidationError, first_row, require_columns
from fusionrank.datasets.lists import FlatList, to_lists
from fusionrank.datasets.logs import validate_logs

logger = logging.getLogger(__name__)

N_RESULTS = 10
POLICY = "clara2"
_WIDTH = 5 + N_RESULTS
_TIME_UNITS_PER_SECOND = 1000.0


def load_clara2_log(path: str | Path) -> pd.DataFrame:
    """Read a CLARA2 search log as a validated log table (see the module docstring).

    Args:
        path: The ``CLARA2SearchLog_beta`` file (or any file in the same format).

    Returns:
        One row per query line, with an extra ``click_counts`` list column and
        ``attrs["click_lines"]`` / ``attrs["unattributed_clicks"]`` set.

    Raises:
        DataValidationError: When the file is missing or a line is neither a query nor a
            click line.
    """
    path = Path(path)
    raw = _read_lines(path)
    is_query = (raw[2] == "Q").to_numpy()
    queries = raw[is_query]
    urls = queries.iloc[:, 5:_WIDTH].to_numpy(dtype=object)
    counts, unattributed = _click_counts(raw, is_query, urls)
    keep = (urls != "") & ~_repeated_later(urls)
    lengths = keep.sum(axis=1).astype(np.int64)
    flat = FlatList(lengths, urls[keep], np.zeros(len(urls), dtype=bool))
    frame = pd.DataFrame(
        {
            "session_id": queries[0].to_numpy(),
            "query_id": queries[3].to_numpy(),
            "query_text": "q" + queries[3].to_numpy(dtype=object),
            "timestamp": queries[1].astype(np.int64).to_numpy() / _TIME_UNITS_PER_SECOND,
            "item_ids": to_lists(flat),
            "clicks": to_lists(flat.with_values(counts[keep] > 0)),
            "positions": to_lists(flat.with_values(np.nonzero(keep)[1].astype(np.int64) + 1)),
            "page": 0,
            "policy": POLICY,
            "region": queries[4].to_numpy(),
            "click_counts": to_lists(flat.with_values(counts[keep].astype(np.int64))),
        }
    )
    logs = validate_logs(frame, file=str(path))
    logs.attrs.update(click_lines=int((~is_query).sum()), unattributed_clicks=unattributed)
    logger.info(
        "CLARA2 %s: %d pages, %d click lines (%d not on the session's latest page)",
        path,
        len(logs),
        logs.attrs["click_lines"],
        unattributed,
    )
    return logs


def _read_lines(path: Path) -> pd.DataFrame:
    """All lines as str fields, ``""`` where a line is shorter than a query line."""
    if not path.is_file():
        raise DataValidationError(
            str(path), "does not exist", "pass the CLARA2SearchLog_beta file of the data folder"
        )
    raw = pd.read_csv(
        path,
        sep="\t",
        header=None,
        names=range(_WIDTH),
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        quoting=3,
    )
    kind = raw[2].to_numpy()
    row = first_row(~np.isin(kind, ("Q", "C")))
    if row is not None:
        raise DataValidationError(
            str(path),
            f"line {row + 1} has action {kind[row]!r}, not 'Q' or 'C'",
            "give query lines 'session time Q query region urls' and click lines "
            "'session time C url'",
        )
    bad = ~raw[1].str.fullmatch(r"\d+").to_numpy()
    row = first_row(bad)
    if row is not None:
        raise DataValidationError(
            str(path),
            f"line {row + 1} has time {raw.iat[row, 1]!r}, not a whole number",
            "give the time field as an integer number of milliseconds",
        )
    return raw


def _click_counts(
    raw: pd.DataFrame, is_query: np.ndarray, urls: np.ndarray
) -> tuple[np.ndarray, int]:
    """Click lines per (page, rank), int64 shape (n_pages, 10), and how many click lines
    hit no url of their session's latest page."""
    page = np.cumsum(is_query) - 1
    clicks = np.flatnonzero(~is_query)
    page_of_click = page[clicks]
    sessions = raw[0].to_numpy(dtype=object)
    page_session = sessions[is_query]
    valid = page_of_click >= 0
    same = np.zeros(len(clicks), dtype=bool)
    same[valid] = page_session[page_of_click[valid]] == sessions[clicks[valid]]
    clicked = raw[3].to_numpy(dtype=object)[clicks]
    safe_page = np.maximum(page_of_click, 0)
    hits = (urls[safe_page] == clicked[:, None]) & same[:, None]
    found = hits.any(axis=1)
    # The last rank that shows the url, as a url -> rank lookup built top-down gives.
    rank = N_RESULTS - 1 - np.argmax(hits[:, ::-1], axis=1)
    counts = np.zeros(urls.shape, dtype=np.int64)
    np.add.at(counts, (safe_page[found], rank[found]), 1)
    return counts, int((~found).sum())


def _repeated_later(urls: np.ndarray) -> np.ndarray:
    """bool, shape (n_pages, 10): the url appears again lower on the same page."""
    same = urls[:, :, None] == urls[:, None, :]
    later = np.triu(np.ones((urls.shape[1],) * 2, dtype=bool), k=1)
    return (same & later).any(axis=2) & (urls != "")


def load_clara2_relevance(path: str | Path) -> pd.DataFrame:
    """Read the editorial labels.

    Args:
        path: ``CLARA2QueryUrlRelevance_beta``: a header ``query url relevance``, then
            tab-separated rows.

    Returns:
        Columns ``query`` (str), ``url`` (str), ``relevance`` (int64, 0-5).

    Raises:
        DataValidationError: When the file is missing, lacks a column, or a grade is not
            an integer in 0-5.
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(
            str(path),
            "does not exist",
            "pass the CLARA2QueryUrlRelevance_beta file of the data folder",
        )
    labels = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    fix = "use the label file as shipped: a header 'query url relevance', tab separated"
    require_columns(labels, dict.fromkeys(("query", "url", "relevance"), fix), str(path))
    grade = pd.to_numeric(labels["relevance"], errors="coerce")
    row = first_row((grade.isna() | ~grade.isin(range(6))).to_numpy())
    if row is not None:
        raise DataValidationError(
            str(path),
            f"holds {labels['relevance'].iloc[row]!r}",
            "grades are integers from 0 to 5",
            row=row,
            column="relevance",
        )
    return pd.DataFrame(
        {
            "query": labels["query"].astype(str),
            "url": labels["url"].astype(str),
            "relevance": grade.to_numpy(np.int64),
        }
    )


def label_query_overlap(labels: pd.DataFrame, logs: pd.DataFrame) -> pd.DataFrame:
    """For each label query, the log query whose shown urls share most of its labelled urls.

    Args:
        labels: From :func:`load_clara2_relevance`.
        logs: From :func:`load_clara2_log` (any validated log table).

    Returns:
        One row per label query that shares at least one url with some log query:
        ``label_query``, ``log_query``, ``n_labelled`` (its distinct labelled urls),
        ``n_shared`` (those shown under ``log_query`` on any page) and ``share``
        (``n_shared / n_labelled``). Ties go to the log query seen first in the log.
    """
    shown = logs[["query_id", "item_ids"]].explode("item_ids").drop_duplicates()
    shown.columns = ["log_query", "url"]
    order = {q: i for i, q in enumerate(pd.unique(logs["query_id"]))}
    labelled = labels[["query", "url"]].drop_duplicates()
    labelled.columns = ["label_query", "url"]
    n_labelled = labelled.groupby("label_query").size().rename("n_labelled")
    pairs = labelled.merge(shown, on="url").groupby(["label_query", "log_query"]).size()
    best = pairs.rename("n_shared").reset_index()
    best["order"] = best["log_query"].map(order)
    best = best.sort_values(
        ["label_query", "n_shared", "order"], ascending=[True, False, True], kind="stable"
    ).drop_duplicates("label_query")
    best = best.join(n_labelled, on="label_query")
    best["share"] = best["n_shared"] / best["n_labelled"]
    columns = ["label_query", "log_query", "n_labelled", "n_shared", "share"]
    return best[columns].reset_index(drop=True)


def map_label_queries(
    labels: pd.DataFrame, logs: pd.DataFrame, min_share: float = 0.0
) -> dict[str, str]:
    """Map label query ids to log query ids by url overlap.

    The label file's query ids do not match the log's: joined on (query, url), only 455
    of the 41,073 distinct shown pairs have a label, although almost every shown url has
    labels; a label query's urls are mostly shown under one log query whose id is a few
    numbers off. So each label query maps to the log query whose shown urls cover most of
    its labelled urls (see :func:`label_query_overlap` for the counts and share).

    Args:
        labels: From :func:`load_clara2_relevance`.
        logs: From :func:`load_clara2_log`.
        min_share: Leave out label queries whose best log query shows less than this
            share of their labelled urls.

    Returns:
        label query id -> log query id.
    """
    overlap = label_query_overlap(labels, logs)
    kept = overlap[overlap["share"] >= min_share]
    logger.info(
        "mapped %d of %d label queries (median url share %.2f)",
        len(kept),
        labels["query"].nunique(),
        float(kept["share"].median()) if len(kept) else float("nan"),
    )
    return dict(zip(kept["label_query"], kept["log_query"], strict=True))
