"""``data validate``'s collecting mode: every error of a file in one run, with the file's
line numbers; CSV separators and encodings; the JSON report; and the loaders still
raising one error for library callers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from fusionrank.datasets import DataValidationError, load_catalog
from fusionrank.datasets.csvfiles import line_numbers, sniff_csv
from fusionrank.datasets.validation import validate_files

# Nine broken catalog rules, one per line, and which line each is on (header = line 1).
BAD_CATALOG = [
    ("item_id", "title", "price", "image_path"),
    ("A1", "Mug", "4.5", "a.png"),  # line 2: fine
    ("A1", "Mug again", "4.5", "a.png"),  # line 3: duplicate id
    ("", "No id", "4.5", "a.png"),  # line 4: empty id
    ("A4", "", "4.5", "a.png"),  # line 5: empty title
    ("A5", "Vase", "cheap", "a.png"),  # line 6: price not a number
    ("A6", "Lamp", "", "a.png"),  # line 7: empty price
    ("A7", "Scarf", "-3", "a.png"),  # line 8: negative price
    ("A8", "Bag", "inf", "a.png"),  # line 9: infinite price
    ("A9", "Cup", "2", ""),  # line 10: no image path
    ("A10", "Plate", "2", "gone.png"),  # line 11: image file missing
]
CATALOG_ERRORS = {
    3: ("item_id", "duplicate id 'A1' (first at line 2)"),
    4: ("item_id", "is empty"),
    5: ("title", "is empty"),
    6: ("price", "holds 'cheap', not a number"),
    7: ("price", "is empty"),
    8: ("price", "holds -3"),
    9: ("price", "holds inf"),
    10: ("image_path", "is empty"),
    11: ("image_path", "does not exist"),
}


def write_csv(path: Path, rows: list[tuple[str, ...]], sep: str = ",", encoding="utf-8") -> Path:
    path.write_bytes("\n".join(sep.join(r) for r in rows).encode(encoding) + b"\n")
    return path


def bad_logs(path: Path) -> Path:
    """Four pages, with five broken rules in rows 1-3 (and an item not in the catalog)."""
    pd.DataFrame(
        {
            "session_id": ["s1", None, "s2", "s3"],
            "query_id": ["q1", "q1", "q2", "q2"],
            "query_text": ["mug", "mug", "", "vase"],
            "timestamp": [1.0, 2.0, 3.0, 4.0],
            "item_ids": [["A1", "A4"], ["A4", "A4"], ["A1"], ["A1", "NOPE"]],
            "clicks": [[0, 1], [1, 0], [1, 0], [0, 0]],
            "purchases": [[0, 1], [0, 0], [0], [0, 1]],
        }
    ).to_parquet(path)
    return path


def test_every_catalog_error_and_every_logs_error_in_one_run(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"png")
    catalog = write_csv(tmp_path / "catalog.csv", BAD_CATALOG)
    logs = bad_logs(tmp_path / "logs.parquet")
    report = validate_files(catalog, logs)
    assert not report.valid
    checked, logged = report.files
    assert checked.n_errors == len(CATALOG_ERRORS) == 9
    found = {e.line: (e.column, str(e)) for e in checked.errors}
    assert set(found) == set(CATALOG_ERRORS)
    for line, (column, problem) in CATALOG_ERRORS.items():
        assert found[line][0] == column and problem in found[line][1], found[line]
        assert f"{catalog}: line {line}, column '{column}'" in found[line][1]
    # The logs were checked although the catalog has errors, against its sound ids.
    rules = {(e.column, e.problem, e.row) for e in logged.errors}
    assert rules == {
        ("session_id", "is empty", 1),
        ("query_text", "is empty", 2),
        ("item_ids", "shows item 'A4' twice", 1),
        ("clicks", "has 2 entries but item_ids has 1", 2),
        ("item_ids", "item 'NOPE' is not in the catalog", 3),
    }
    assert any("0-based" in note for note in logged.notes)


def test_the_loader_still_raises_the_first_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"png")
    catalog = write_csv(tmp_path / "catalog.csv", BAD_CATALOG)
    with pytest.raises(DataValidationError, match="line 4, column 'item_id': is empty") as info:
        load_catalog(catalog)
    assert (info.value.row, info.value.line) == (2, 4)


def test_rows_that_share_a_problem_are_one_error_listing_their_lines(tmp_path: Path) -> None:
    rows = [("item_id", "title", "price")] + [(f"i{k}", "t", "x") for k in range(15)]
    report = validate_files(write_csv(tmp_path / "c.csv", rows))
    (error,) = report.files[0].errors
    assert error.n_rows == 15 and error.line == 2
    assert error.lines is not None and error.lines.tolist()[:3] == [2, 3, 4]
    assert "(15 lines in all; also lines 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, ... (4 more))" in str(
        error
    )


def test_the_limit_keeps_the_first_errors_and_counts_the_rest(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"png")
    report = validate_files(write_csv(tmp_path / "catalog.csv", BAD_CATALOG), limit=4)
    check = report.files[0]
    assert len(check.errors) == 4 and check.n_more == 5 and check.n_errors == 9


def test_line_numbers_count_quoted_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text('item_id,title,description\na,A,"two\nlines"\n\nb,,x\n', encoding="utf-8")
    fmt = sniff_csv(path)
    assert line_numbers(path, fmt).tolist() == [2, 5]
    (error,) = validate_files(path).files[0].errors
    assert (error.row, error.line, error.column) == (1, 5, "title")


FORMATS = [
    (";", "utf-8", "separator ';', decimal ',', encoding UTF-8"),
    ("\t", "utf-8-sig", "separator tab, decimal ',', encoding UTF-8 with BOM"),
    ("|", "cp1252", "separator '|', decimal ',', encoding Windows-1252 (Latin-1)"),
    (",", "utf-8", "separator ',', encoding UTF-8"),
]


@pytest.mark.parametrize(("sep", "encoding", "described"), FORMATS)
def test_separators_and_encodings_are_detected(
    tmp_path: Path, sep: str, encoding: str, described: str
) -> None:
    decimal = "," if sep != "," else "."
    rows = [
        ("item_id", "title", "price", "category"),
        ("007", "Tasse crème", f"12{decimal}50", "home/mug"),
        ("008", "Écharpe laine", f"3{decimal}00", "fashion/scarf"),
    ]
    path = write_csv(tmp_path / "c.csv", rows, sep, encoding)
    catalog = load_catalog(path)
    assert catalog.item_ids.tolist() == ["007", "008"]
    assert catalog.table["title"].tolist() == ["Tasse crème", "Écharpe laine"]
    assert catalog.table["price"].tolist() == [12.5, 3.0]
    check = validate_files(path).files[0]
    assert check.valid and check.read_as == f"CSV, {described}"
    assert any("not UTF-8" in n for n in check.notes) == (encoding == "cp1252")


def test_a_one_column_header_names_the_separator(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("item_id title price\na b 1\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as info:
        load_catalog(path)
    message = str(info.value)
    assert "column 'item_id': is missing" in message
    assert "one column named 'item_id title price'" in message and "separator" in message


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    from fusionrank.cli import register_commands

    register_commands()
    return CliRunner()


def test_cli_prints_every_error_and_writes_the_json_report(
    runner: CliRunner, tmp_path: Path
) -> None:
    from fusionrank.cli import app

    (tmp_path / "a.png").write_bytes(b"png")
    catalog = write_csv(tmp_path / "catalog.csv", BAD_CATALOG)
    logs = bad_logs(tmp_path / "logs.parquet")
    out = tmp_path / "report" / "validate.json"
    args = ["data", "validate", "--catalog", str(catalog), "--logs", str(logs)]
    result = runner.invoke(app, [*args, "--report", str(out)])
    assert result.exit_code == 1, result.output
    assert "9 error(s)" in result.output and "5 error(s)" in result.output
    for line in CATALOG_ERRORS:
        assert f"line {line}, column" in result.output
    saved = json.loads(out.read_text())
    assert saved["valid"] is False
    catalog_check, logs_check = saved["files"]
    assert catalog_check["read_as"] == "CSV, separator ',', encoding UTF-8"
    assert sorted(e["line"] for e in catalog_check["errors"]) == sorted(CATALOG_ERRORS)
    assert {e["column"] for e in logs_check["errors"]} == {
        "session_id",
        "query_text",
        "item_ids",
        "clicks",
    }
    assert all(e["fix"] and e["problem"] for e in logs_check["errors"])


def test_cli_summary_of_valid_files(runner: CliRunner, tmp_path: Path) -> None:
    from fusionrank.cli import app

    catalog = write_csv(tmp_path / "c.csv", [("item_id", "title"), ("A1", "Mug"), ("A4", "x")])
    logs = tmp_path / "logs.parquet"
    frame = pd.read_parquet(bad_logs(logs)).iloc[[0]]
    frame.to_parquet(logs)
    out = tmp_path / "ok.json"
    result = runner.invoke(
        app,
        ["data", "validate", "--catalog", str(catalog), "--logs", str(logs), "--report", str(out)],
    )
    assert result.exit_code == 0, result.output
    saved = json.loads(out.read_text())
    assert saved["valid"] is True
    assert saved["files"][1]["summary"]["pages"] == 1
    assert np.isclose(saved["files"][1]["summary"]["clicks per page"], 1.0)


def test_comma_decimals_with_a_bad_cell_name_only_that_cell(tmp_path: Path) -> None:
    rows = [("item_id", "title", "price"), ("a", "A", "12,50"), ("b", "B", "cheap")]
    (error,) = validate_files(write_csv(tmp_path / "c.csv", rows, ";")).files[0].errors
    assert (error.line, error.problem) == (3, "holds 'cheap', not a number")
    assert error.n_rows == 1


def test_a_ragged_csv_names_the_separator_it_was_read_with(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    lines = ["item_id;title;price"] + [f"i{k};t;1" for k in range(60)] + ["i60;t;1;extra"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (error,) = validate_files(path).files[0].errors
    assert "cannot be read as csv" in error.problem
    assert "read with separator ';', encoding UTF-8" in error.problem


def test_a_log_file_with_twelve_different_errors_reports_all_twelve(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"png")
    items = [BAD_CATALOG[0], *((f"A{i}", f"Item {i}", "2", "a.png") for i in range(1, 12))]
    catalog = write_csv(tmp_path / "catalog.csv", items)
    n = 12
    pd.DataFrame(
        {
            "session_id": ["s1", None, *(f"s{i}" for i in range(2, n))],
            "query_id": ["q1", "q1", "q2", "q2", "q3", "", *(f"q{i}" for i in range(4, 10))],
            "query_text": ["mug", "mug", "", *(f"w{i}" for i in range(3, n))],
            "timestamp": [1.0, 2.0, 3.0, 4.0, np.nan, *range(6, n + 1)],
            "item_ids": [
                ["A1", "A4"], ["A4", "A4"], ["A1"], ["A1", "NOPE"], ["A2"], ["A3"], [],
                ["A5"], ["A6"], ["A7"], ["A8"], ["A9"],
            ],
            "clicks": [[0, 1], [1, 0], [1, 0], [0, 0], [0], [0], [], [2], [0], [0], [1], [0]],
            "purchases": [[0, 1], [0, 0], [0], [0, 1], [0], [0], [], [0], [1], [0, 0], [-1], [0]],
            "propensities": [
                [0.5, 0.5], [0.5, 0.5], [0.5], [0.5, 0.5], [0.5], [0.5], [],
                [0.5], [0.5], [0.5], [0.5], [1.5],
            ],
        }
    ).to_parquet(tmp_path / "logs.parquet")  # fmt: skip
    report = validate_files(catalog, tmp_path / "logs.parquet")
    found = {(e.row, e.column, e.problem) for e in report.files[1].errors}
    assert found == {
        (1, "session_id", "is empty"),
        (5, "query_id", "is empty"),
        (2, "query_text", "is empty"),
        (4, "timestamp", "is empty"),
        (7, "clicks", "holds 2"),
        (10, "purchases", "holds -1"),
        (11, "propensities", "holds 1.5"),
        (6, "item_ids", "is an empty list"),
        (1, "item_ids", "shows item 'A4' twice"),
        (2, "clicks", "has 2 entries but item_ids has 1"),
        (9, "purchases", "has 2 entries but item_ids has 1"),
        (3, "item_ids", "item 'NOPE' is not in the catalog"),
    }
