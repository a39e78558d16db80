"""Event tables to pages and back: the round trip gives identical pages, column names are
configurable, CSV events are read with their own separator, and every broken event is
reported at once with its file line."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fusionrank.datasets import DataValidationError, load_logs, validate_logs
from fusionrank.datasets.events import EventColumns, events_to_pages, pages_to_events
from fusionrank.datasets.importing import import_events
from tests.datasets.ownshop import SHAPES, write_own_shop


@pytest.mark.parametrize("shape", SHAPES[:4], ids=[s.name for s in SHAPES[:4]])
@pytest.mark.parametrize("propensities", [False, True])
def test_pages_to_events_to_pages_is_identity(tmp_path: Path, shape, propensities: bool) -> None:
    shop = write_own_shop(tmp_path, replace(shape, propensities=propensities), seed=4)
    pages = pd.read_parquet(shop.logs)
    events = pages_to_events(pages)
    assert len(events) == pages["item_ids"].map(len).sum()
    pd.testing.assert_frame_equal(events_to_pages(events), validate_logs(pages))


def test_round_trip_of_shopworld_logs(tiny_world: Path) -> None:
    pages = pd.read_parquet(tiny_world / "data" / "logs.parquet")
    back = events_to_pages(pages_to_events(pages))
    pd.testing.assert_frame_equal(back, validate_logs(pages))


def test_events_group_into_pages_sorted_by_position() -> None:
    events = pd.DataFrame(
        {
            "sid": ["s1", "s1", "s1", "s2", "s1"],
            "q": ["mug", "mug", "mug", "vase", "mug"],
            "sku": [7, "b", "c", "d", "e"],
            "rank": [2, 1, 3, 1, 1],
            "click": [1, 0, 0, 1, 0],
            "buy": [1, 0, 0, 0, 0],
            "ts": [
                "2024-03-01T08:00:00",
                "2024-03-01T08:00:00",
                "2024-03-01T08:00:00",
                "2024-03-01T09:00:00",
                "2024-03-01T08:01:00",
            ],
            "device": ["phone", "phone", "phone", "desk", "phone"],
        }
    )
    columns = EventColumns.parse(
        [
            "session=sid",
            "query_text=q",
            "item=sku",
            "position=rank",
            "clicked=click",
            "purchased=buy",
            "timestamp=ts",
        ]
    )
    pages = events_to_pages(events, columns)
    assert pages is not None
    assert pages["item_ids"].tolist() == [["b", "7", "c"], ["d"], ["e"]]
    assert pages["clicks"].tolist() == [[False, True, False], [True], [False]]
    assert pages["purchases"].tolist() == [[False, True, False], [False], [False]]
    assert pages["positions"].tolist() == [[1, 2, 3], [1], [1]]
    assert pages["query_id"].tolist() == ["mug", "vase", "mug"]  # the text, without ids
    assert pages["device"].tolist() == ["phone", "desk", "phone"]
    assert str(pages["timestamp"].dtype).startswith("datetime64")


def test_unknown_column_field_is_refused() -> None:
    with pytest.raises(ValueError, match="FIELD=COLUMN with FIELD one of session"):
        EventColumns.parse(["sku=item"])


# One broken rule per line of a CSV (the header is line 1), ten in all.
BAD_EVENTS = """session_id;query_text;item_id;position;clicked;purchased;timestamp;propensity;page
s1;mug;A;1;1;0;2024-03-01 08:00:00;0.5;0
;mug;B;2;0;0;2024-03-01 08:00:00;0.5;0
s1;;C;3;0;0;2024-03-01 08:00:00;0.5;0
s1;mug;;4;0;0;2024-03-01 08:00:00;0.5;0
s2;vase;A;0;0;0;2024-03-01 09:00:00;0.5;0
s2;vase;B;2.5;0;0;2024-03-01 09:00:00;0.5;0
s2;vase;C;3;yes;0;2024-03-01 09:00:00;0.5;0
s3;lamp;A;1;0;1;2024-03-01 10:00:00;0.5;0
s3;lamp;B;2;0;0;yesterday;0.5;0
s4;cup;A;1;0;0;2024-03-01 11:00:00;1.5;0
s5;bowl;A;1;0;0;2024-03-01 12:00:00;0.5;-1
"""
EVENT_ERRORS = {
    3: ("session_id", "is empty"),
    4: ("query_text", "is empty"),
    5: ("item_id", "is empty"),
    6: ("position", "holds 0"),
    7: ("position", "holds 2.5"),
    8: ("clicked", "holds 'yes'"),
    9: ("purchased", "is a purchase without a click"),
    10: ("timestamp", "holds 'yesterday', which is not a time"),
    11: ("propensity", "holds 1.5"),
    12: ("page", "holds -1"),
}


def test_ten_broken_events_are_reported_at_once_with_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(BAD_EVENTS, encoding="utf-8")
    out = tmp_path / "logs.parquet"
    check = import_events(path, out)
    assert not out.exists()
    assert check.read_as == "CSV, separator ';', encoding UTF-8"
    found = {e.line: (e.column, e.problem) for e in check.errors}
    assert len(check.errors) == 10
    for line, (column, problem) in EVENT_ERRORS.items():
        assert found[line][0] == column and problem in found[line][1], (line, found.get(line))


def test_page_level_rules_name_the_event_lines(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(
        "session_id,query_text,item_id,position,clicked,timestamp,propensity\n"
        "s1,mug,A,1,1,5,0.5\n"
        "s1,mug,B,1,0,5,0.5\n"  # position 1 twice on the page
        "s1,mug,A,3,0,5,\n"  # item A twice; propensity missing on part of the page
        "s2,cup,A,1,0,9,\n",  # a page without propensities: fine
        encoding="utf-8",
    )
    check = import_events(path, tmp_path / "logs.parquet")
    found = {(e.line, e.column, e.problem) for e in check.errors}
    assert found == {
        (3, "position", "position 1 appears twice on one page"),
        (4, "item_id", "item 'A' appears twice on one page"),
        (4, "propensity", "is empty while other items of its page have one"),
    }


def test_import_writes_pages_that_load(tmp_path: Path) -> None:
    shop = write_own_shop(tmp_path, SHAPES[1], seed=8)
    pages = pd.read_parquet(shop.logs)
    events = pages_to_events(pages).rename(columns={"item_id": "sku"})
    events["timestamp"] = events["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    source = tmp_path / "events.csv"
    events.to_csv(source, sep="\t", index=False)
    out = tmp_path / "imported.parquet"
    check = import_events(source, out, EventColumns(item="sku"))
    assert check.valid, [str(e) for e in check.errors]
    assert check.summary is not None and check.summary["events"] == len(events)
    loaded = load_logs(out)
    expected = validate_logs(pages)
    assert loaded["item_ids"].tolist() == expected["item_ids"].tolist()
    assert loaded["clicks"].tolist() == expected["clicks"].tolist()
    assert np.array_equal(
        loaded["timestamp"].to_numpy("datetime64[s]"),
        expected["timestamp"].to_numpy("datetime64[s]"),
    )


def test_library_callers_get_one_error() -> None:
    events = pd.DataFrame(
        {
            "session_id": ["s"],
            "query_text": ["q"],
            "item_id": ["a"],
            "position": [1],
            "clicked": [2],
            "timestamp": [1.0],
        }
    )
    with pytest.raises(DataValidationError, match=r"row 0, column 'clicked': holds 2"):
        events_to_pages(events)
    with pytest.raises(DataValidationError, match=r"column 'sku': is missing.*--column item="):
        events_to_pages(events, EventColumns(item="sku"))


def test_cli_import_events(tmp_path: Path) -> None:
    from fusionrank.cli import app, register_commands

    register_commands()
    shop = write_own_shop(tmp_path, SHAPES[0], seed=9)
    events = pages_to_events(pd.read_parquet(shop.logs)).rename(columns={"clicked": "click"})
    source = tmp_path / "events.parquet"
    events.to_parquet(source)
    out = tmp_path / "logs.parquet"
    runner = CliRunner()
    args = ["data", "import-events", str(source), "--out", str(out), "--column", "clicked=click"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and out.is_file()
    bad = runner.invoke(app, ["data", "import-events", str(source), "--out", str(out)])
    assert bad.exit_code == 1
    assert "column 'clicked': is missing" in bad.output
