"""The log schema: validation messages, atomic writes, and pages as arrays."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionrank.datasets import (
    DataValidationError,
    load_catalog,
    load_logs,
    logs_to_pages,
    summarize_logs,
    validate_logs,
    write_logs,
)
from fusionrank.types import PAD, Catalog

NAN = np.nan


def tiny_log() -> pd.DataFrame:
    """Three pages: a full page, one impression at position 3, and a page of two."""
    return pd.DataFrame(
        {
            "session_id": ["s1", "s1", 7],
            "query_id": ["q1", "q2", "q1"],
            "query_text": ["red shoe", "blue bag", "red shoe"],
            "timestamp": [100.0, 160.0, 200.0],
            "item_ids": [["a", "b", "c"], ["d"], ["b", "a"]],
            "clicks": [[0, 1, 0], [1], [True, True]],
            "purchases": [[0, 1, 0], [0], [0, 0]],
            "propensities": [[0.5, 0.25, 0.125], None, [1.0, 0.5]],
            "positions": [[1, 2, 3], [3], [1, 2]],
            "page": [0, 1, 0],
            "policy": [None, "unknown", "pl"],
            "device": ["phone", "desk", "phone"],
        }
    )


def test_validate_normalises_ids_lists_and_defaults() -> None:
    frame = tiny_log().drop(columns=["positions", "page", "policy"])
    frame = frame.assign(item_ids=pd.Series([["a", 2, "c"], ["d"], np.array([5, 6])]))
    out = validate_logs(frame)
    assert list(out.columns) == [
        "session_id",
        "query_id",
        "query_text",
        "timestamp",
        "item_ids",
        "clicks",
        "purchases",
        "propensities",
        "positions",
        "page",
        "policy",
        "device",
    ]
    assert out["session_id"].tolist() == ["s1", "s1", "7"]
    assert out["item_ids"].tolist() == [["a", "2", "c"], ["d"], ["5", "6"]]
    assert out["clicks"].tolist() == [[False, True, False], [True], [True, True]]
    assert out["propensities"].tolist() == [[0.5, 0.25, 0.125], None, [1.0, 0.5]]
    assert out["positions"].tolist() == [[1, 2, 3], [1], [1, 2]]
    assert out["page"].tolist() == [0, 0, 0]
    assert out["policy"].tolist() == ["unknown"] * 3
    assert out["device"].tolist() == ["phone", "desk", "phone"]


def cell(column: str, row: int, value):
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        values = frame[column].tolist()
        values[row] = value
        return frame.assign(**{column: pd.Series(values, dtype=object)})

    return change


def column(name: str, values: list):
    return lambda frame: frame.assign(**{name: pd.Series(values)})


PROPENSITY_FIX = (
    "propensities must be in (0, 1]: the logging policy's probability of showing the item"
    " at that position; make the whole list null when unknown"
)
INVALID = [
    (
        "no clicks column",
        lambda f: f.drop(columns="clicks"),
        "column 'clicks': is missing; add a 'clicks' column: a list of bool per page, one per"
        " shown item",
    ),
    (
        "no query text column",
        lambda f: f.drop(columns="query_text"),
        "column 'query_text': is missing; add a 'query_text' column with the text the user typed",
    ),
    (
        "empty query text",
        cell("query_text", 1, " "),
        "row 1, column 'query_text': is empty; give every page the query text the user typed",
    ),
    (
        "null session",
        cell("session_id", 0, None),
        "row 0, column 'session_id': is empty; give every page the id of its session",
    ),
    (
        "clicks as text in one row",
        cell("clicks", 1, ["yes"]),
        "row 1, column 'clicks': holds 'yes' of type str; store one bool (or 0/1) per shown item",
    ),
    (
        "clicks as text",
        column("clicks", [["n", "y", "n"], ["y"], ["y", "y"]]),
        "row 0, column 'clicks': holds 'n' of type str; store one bool (or 0/1) per shown item",
    ),
    (
        "a click of 2",
        cell("clicks", 2, [2, 1]),
        "row 2, column 'clicks': holds 2; store one bool (or 0/1) per shown item",
    ),
    (
        "float item ids",
        column("item_ids", [[1.5, 2.0, 3.0], [4.0], [2.0, 1.5]]),
        "row 0, column 'item_ids': holds 1.5 of type float; item ids must be strings or integers",
    ),
    (
        "a null item id",
        cell("item_ids", 0, ["a", None, "c"]),
        "row 0, column 'item_ids': holds a null entry; item ids must be strings or integers",
    ),
    (
        "items not a list",
        cell("item_ids", 1, "d"),
        "row 1, column 'item_ids': holds 'd', not a list; store 'item_ids' as a list per page",
    ),
    (
        "empty item list",
        cell("item_ids", 1, []),
        "row 1, column 'item_ids': is an empty list; drop pages that showed no items",
    ),
    (
        "an item twice on a page",
        cell("item_ids", 2, ["b", "b"]),
        "row 2, column 'item_ids': shows item 'b' twice; an item may appear once per page;"
        " drop the repeat",
    ),
    (
        "null clicks",
        cell("clicks", 1, None),
        "row 1, column 'clicks': is null; give a list per page, one entry per shown item",
    ),
    (
        "clicks shorter than items",
        cell("clicks", 0, [0, 1]),
        "row 0, column 'clicks': has 2 entries but item_ids has 3; give one entry per shown item",
    ),
    (
        "propensities longer than items",
        cell("propensities", 2, [0.5, 0.5, 0.5]),
        "row 2, column 'propensities': has 3 entries but item_ids has 2; give one entry per"
        " shown item",
    ),
    (
        "purchase without click",
        cell("purchases", 0, [1, 1, 0]),
        "row 0, column 'purchases': has a purchase at position 1 without a click; a purchase"
        " needs a click on the same item; correct the clicks or purchases",
    ),
    (
        "propensity 0",
        cell("propensities", 0, [0.5, 0.0, 0.1]),
        f"row 0, column 'propensities': holds 0.0; {PROPENSITY_FIX}",
    ),
    (
        "negative propensity",
        cell("propensities", 2, [-0.1, 0.5]),
        f"row 2, column 'propensities': holds -0.1; {PROPENSITY_FIX}",
    ),
    (
        "propensity above 1",
        cell("propensities", 0, [0.5, 1.5, 0.1]),
        f"row 0, column 'propensities': holds 1.5; {PROPENSITY_FIX}",
    ),
    (
        "NaN inside a propensity list",
        cell("propensities", 0, [0.5, NAN, 0.1]),
        f"row 0, column 'propensities': holds nan; {PROPENSITY_FIX}",
    ),
    (
        "positions not increasing",
        cell("positions", 0, [1, 3, 2]),
        "row 0, column 'positions': is not strictly increasing ([1, 3, 2]); list the items"
        " top first with their 1-based positions",
    ),
    (
        "position 0",
        cell("positions", 0, [0, 1, 2]),
        "row 0, column 'positions': holds 0; positions are integers >= 1 (the top item is at"
        " position 1)",
    ),
    (
        "negative page",
        cell("page", 1, -1),
        "row 1, column 'page': holds -1; number the result pages of a query 0, 1, 2, ..."
        " (integers >= 0)",
    ),
    (
        "timestamps as text",
        column("timestamp", ["2024-01-01", "2024-01-02", "2024-01-03"]),
        "column 'timestamp': has type str, not datetime or number; store the time as a"
        " datetime or as seconds since the epoch",
    ),
    (
        "missing timestamp",
        column("timestamp", [1.0, NAN, 3.0]),
        "row 1, column 'timestamp': is empty; store the time as a datetime or as seconds since"
        " the epoch",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_logs(case: str, change, message: str) -> None:
    with pytest.raises(DataValidationError, match=re.escape(f"logs: {message}")):
        validate_logs(change(tiny_log()))


def tiny_catalog(tmp_path: Path) -> Catalog:
    table = pd.DataFrame({"item_id": ["d", "c", "b", "a", "e"], "title": list("DCBAE")})
    return Catalog(table=table, root=tmp_path)


def test_an_item_missing_from_the_catalog_names_row_and_id(tmp_path: Path) -> None:
    table = pd.DataFrame({"item_id": ["a", "b", "c"], "title": ["A", "B", "C"]})
    table.to_csv(tmp_path / "cat.csv", index=False)
    catalog = load_catalog(tmp_path / "cat.csv")
    message = (
        "logs: row 1, column 'item_ids': item 'd' is not in the catalog; add the item to the"
        " catalog or drop the pages that show it"
    )
    for convert in (validate_logs, logs_to_pages):
        with pytest.raises(DataValidationError, match=re.escape(message)):
            convert(tiny_log(), catalog=catalog)


def test_load_logs_file_errors(tmp_path: Path) -> None:
    csv = tmp_path / "logs.csv"
    csv.write_text("a,b\n")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 but not really")
    cases = [
        (
            csv,
            f"{csv}: has suffix '.csv'; logs must be parquet (their list columns need it);"
            " convert the table with pandas' DataFrame.to_parquet to a .parquet file",
        ),
        (
            tmp_path / "none.parquet",
            f"{tmp_path / 'none.parquet'}: does not exist; check the path (in a run config it"
            " is data.logs, relative to the folder you run fusionrank in); logs are one"
            " .parquet file",
        ),
        (broken, f"{broken}: cannot be read as parquet"),
    ]
    for path, message in cases:
        with pytest.raises(DataValidationError, match=re.escape(message)):
            load_logs(path)


def test_load_names_the_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "logs.parquet"
    frame = cell("propensities", 2, [0.5, 0.0])(tiny_log()).assign(
        session_id=["1", "1", "7"], clicks=[[0, 1, 0], [1], [1, 1]]
    )
    frame.to_parquet(path)
    with pytest.raises(DataValidationError, match=re.escape(f"{path}: row 2, column")):
        load_logs(path)


def test_write_then_load_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "out" / "logs.parquet"
    written = write_logs(tiny_log(), path)
    loaded = load_logs(path)
    pd.testing.assert_frame_equal(loaded, written)
    assert loaded["propensities"].tolist()[1] is None


def test_a_bad_frame_writes_nothing_and_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "logs.parquet"
    bad = cell("purchases", 0, [1, 1, 0])(tiny_log())
    with pytest.raises(DataValidationError):
        write_logs(bad, path)
    assert list(tmp_path.iterdir()) == []
    write_logs(tiny_log(), path)
    before = path.read_bytes()
    with pytest.raises(DataValidationError):
        write_logs(bad, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["logs.parquet"]
    with pytest.raises(DataValidationError, match=re.escape("has suffix '.csv'")):
        write_logs(tiny_log(), tmp_path / "logs.csv")


def test_logs_to_pages_golden_arrays() -> None:
    pages = logs_to_pages(tiny_log())
    # Vocabulary in order of first appearance: a b c d -> 0 1 2 3; page 1 shows d at
    # position 3 only, so its columns 0 and 1 are padding.
    np.testing.assert_array_equal(pages.item_index, [[0, 1, 2], [PAD, PAD, 3], [1, 0, PAD]])
    assert pages.item_ids.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(
        pages.clicks, [[False, True, False], [False, False, True], [True, True, False]]
    )
    np.testing.assert_array_equal(pages.purchases, [[False, True, False], [False] * 3, [False] * 3])
    np.testing.assert_array_equal(
        pages.propensities, [[0.5, 0.25, 0.125], [NAN] * 3, [1.0, 0.5, NAN]]
    )
    np.testing.assert_array_equal(pages.session, [0, 0, 1])
    np.testing.assert_array_equal(pages.query, [0, 1, 0])
    np.testing.assert_array_equal(pages.page, [0, 1, 0])
    np.testing.assert_array_equal(pages.timestamp, [100.0, 160.0, 200.0])
    assert pages.query_ids.tolist() == ["q1", "q2"]
    assert pages.query_texts.tolist() == ["red shoe", "blue bag"]
    assert pages.policy.tolist() == ["unknown", "unknown", "pl"]
    assert pages.has_purchases and pages.has_propensities
    assert pages.item_index.dtype == np.int64 and pages.timestamp.dtype == np.float64


def test_logs_to_pages_uses_catalog_rows(tmp_path: Path) -> None:
    pages = logs_to_pages(tiny_log(), catalog=tiny_catalog(tmp_path))
    # Catalog order d c b a e.
    np.testing.assert_array_equal(pages.item_index, [[3, 2, 1], [PAD, PAD, 0], [2, 3, PAD]])
    assert pages.item_ids.tolist() == ["d", "c", "b", "a", "e"]


def test_optional_columns_absent() -> None:
    frame = tiny_log().drop(columns=["purchases", "propensities", "positions"])
    pages = logs_to_pages(frame)
    assert not pages.has_purchases and not pages.has_propensities
    assert not pages.purchases.any() and np.isnan(pages.propensities).all()
    np.testing.assert_array_equal(pages.item_index, [[0, 1, 2], [3, PAD, PAD], [1, 0, PAD]])
    all_null = tiny_log().assign(propensities=None)
    assert not logs_to_pages(all_null).has_propensities


@pytest.mark.parametrize(
    "timestamps",
    [
        pd.to_datetime([100, 160, 200], unit="s"),
        pd.to_datetime([100, 160, 200], unit="s", utc=True).tz_convert("Europe/Paris"),
        pd.Series([100, 160, 200], dtype=np.int64),
    ],
    ids=["naive", "tz-aware", "int seconds"],
)
def test_timestamps_become_seconds_since_the_epoch(timestamps) -> None:
    pages = logs_to_pages(tiny_log().assign(timestamp=timestamps))
    np.testing.assert_array_equal(pages.timestamp, [100.0, 160.0, 200.0])


def test_summary_figures() -> None:
    summary = summarize_logs(validate_logs(tiny_log()))
    assert summary == {
        "pages": 3,
        "sessions": 2,
        "queries": 2,
        "distinct items": 4,
        "positions": 3,
        "clicks per page": pytest.approx(4 / 3),
        # Impressions per position 2, 2, 2; clicks 1, 2, 1.
        "CTR by position": [0.5, 1.0, 0.5],
        "purchases": 1,
        "purchases per page": pytest.approx(1 / 3),
        "propensities": "yes, on 2 of 3 pages",
        "policies": {"pl": 1, "unknown": 2},
    }


def test_shopworld_files_pass_the_loaders(tiny_world: Path) -> None:
    data = tiny_world / "data"
    catalog = load_catalog(data / "catalog.parquet")
    logs = load_logs(data / "logs.parquet", catalog=catalog)
    pages = logs_to_pages(logs, catalog=catalog)
    assert len(pages) == len(logs) == 2000
    assert pages.has_purchases and pages.has_propensities
    assert pages.item_index.max() < len(catalog)
    assert summarize_logs(logs)["pages"] == 2000
