"""Catalog loading: the schema's rules, each broken once, and the messages users see."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionrank.datasets import DataValidationError, load_catalog


def good_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["007", "b", "c"],
            "title": ["red shoe", "blue bag", "green hat"],
            "description": ["leather", None, "wool"],
            "image_path": ["img/a.png", "img/b.png", "img/c.png"],
            "price": [10.0, 0.0, 3.5],
            "category": ["shoes", "bags", None],
            "brand": ["x", "y", "z"],
        }
    )


def write(folder: Path, table: pd.DataFrame, name: str = "cat.csv", images: bool = True) -> Path:
    path = folder / name
    if path.suffix == ".csv":
        table.to_csv(path, index=False)
    else:
        table.to_parquet(path, index=False)
    if images:
        (folder / "img").mkdir(exist_ok=True)
        for image in ("a.png", "b.png", "c.png"):
            (folder / "img" / image).write_bytes(b"png")
    return path


@pytest.mark.parametrize("name", ["cat.csv", "cat.parquet"])
def test_a_good_catalog_loads_normalised(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, good_table(), name)
    catalog = load_catalog(path)
    assert catalog.root == tmp_path
    assert catalog.item_ids.tolist() == ["007", "b", "c"]  # the CSV keeps the zeros
    assert catalog.table["description"].tolist() == ["leather", "", "wool"]
    assert catalog.table["category"].tolist() == ["shoes", "bags", ""]
    assert catalog.table["brand"].tolist() == ["x", "y", "z"]  # extra columns kept
    assert catalog.table["price"].dtype == np.float64
    assert all(p.is_file() for p in catalog.image_paths())


def test_integer_ids_become_strings_and_images_may_be_absolute(tmp_path: Path) -> None:
    image = tmp_path / "abs.png"
    image.write_bytes(b"png")
    table = pd.DataFrame({"item_id": [3, 1], "title": ["a", "b"], "image_path": [str(image)] * 2})
    catalog = load_catalog(write(tmp_path, table, "cat.parquet", images=False))
    assert catalog.item_ids.tolist() == ["3", "1"]
    assert catalog.index_of(["1"]).tolist() == [1]
    assert catalog.image_paths()[0] == image


def test_missing_images_pass_when_not_checked(tmp_path: Path) -> None:
    path = write(tmp_path, good_table(), images=False)
    assert len(load_catalog(path, check_images=False)) == 3


def drop(column: str):
    return lambda t: t.drop(columns=column)


def put(column: str, row: int, value):
    def change(table: pd.DataFrame) -> pd.DataFrame:
        table = table.astype({column: object})
        table.loc[row, column] = value
        return table

    return change


INVALID = [
    (
        "no title",
        drop("title"),
        "column 'title': is missing; add a 'title' column with each item's name",
    ),
    (
        "no item_id",
        drop("item_id"),
        "column 'item_id': is missing; add an 'item_id' column with a unique id for each item",
    ),
    (
        "duplicate ids",
        put("item_id", 2, "007"),
        "line 4, column 'item_id': duplicate id '007' (first at line 2); make item ids unique",
    ),
    (
        "empty id",
        put("item_id", 1, None),
        "line 3, column 'item_id': is empty; give every item a non-empty id",
    ),
    (
        "empty title",
        put("title", 1, "  "),
        "line 3, column 'title': is empty; give every item a title",
    ),
    (
        "negative price",
        put("price", 2, -1.0),
        "line 4, column 'price': holds -1; give every item a finite price >= 0, or drop the column",
    ),
    (
        "price not a number",
        put("price", 0, "cheap"),
        "line 2, column 'price': holds 'cheap', not a number; give every item a finite price"
        " >= 0, or drop the column",
    ),
    (
        "empty price",
        put("price", 1, None),
        "line 3, column 'price': is empty; give every item a finite price >= 0, or drop the column",
    ),
]


@pytest.mark.parametrize(("case", "change", "message"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_csv_catalogs(tmp_path: Path, case: str, change, message: str) -> None:
    path = write(tmp_path, change(good_table()))
    with pytest.raises(DataValidationError, match=re.escape(f"{path}: {message}")) as info:
        load_catalog(path)
    assert info.value.file == str(path)


def replace(column: str, values: list):
    return lambda t: t.assign(**{column: values})


INVALID_PARQUET = [
    (
        "float ids",
        replace("item_id", [1.0, 1.5, 3.0]),
        "row 0, column 'item_id': holds 1.0 of type float; ids must be strings or integers",
    ),
    (
        "numeric titles",
        replace("title", [1, 2, 3]),
        "row 0, column 'title': holds 1 of type int; give every item a title",
    ),
    (
        "infinite price",
        replace("price", [1.0, np.inf, 2.0]),
        "row 1, column 'price': holds inf; give every item a finite price >= 0, or drop the column",
    ),
]


@pytest.mark.parametrize(
    ("case", "change", "message"), INVALID_PARQUET, ids=[c[0] for c in INVALID_PARQUET]
)
def test_invalid_parquet_catalogs(tmp_path: Path, case: str, change, message: str) -> None:
    path = write(tmp_path, change(good_table()), "cat.parquet")
    with pytest.raises(DataValidationError, match=re.escape(f"{path}: {message}")):
        load_catalog(path)


def test_a_missing_image_names_its_row_and_path(tmp_path: Path) -> None:
    path = write(tmp_path, good_table())
    (tmp_path / "img" / "b.png").unlink()
    message = (
        f"{path}: line 3, column 'image_path': image file '{tmp_path / 'img' / 'b.png'}' does"
        " not exist; add the file, correct the path (relative to the catalog's folder), or"
        " load with check_images=False"
    )
    with pytest.raises(DataValidationError, match=re.escape(message)) as info:
        load_catalog(path)
    assert (info.value.row, info.value.column) == (1, "image_path")


def test_file_level_errors(tmp_path: Path) -> None:
    json_file = tmp_path / "cat.json"
    json_file.write_text("{}")
    cases = [
        (
            json_file,
            f"{json_file}: has suffix '.json', which is not a catalog format; save the"
            " catalog as .parquet or .csv",
        ),
        (
            tmp_path / "none.csv",
            f"{tmp_path / 'none.csv'}: does not exist; check the path (in a run config it is"
            " data.catalog, relative to the folder you run fusionrank in); a catalog is one"
            " .parquet or .csv file",
        ),
    ]
    for path, message in cases:
        with pytest.raises(DataValidationError, match=re.escape(message)):
            load_catalog(path)
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(DataValidationError, match=re.escape(f"{broken}: cannot be read as")):
        load_catalog(broken)


def test_message_format_drops_missing_parts() -> None:
    error = DataValidationError("cat.csv", "is missing", "add it", column="title")
    assert str(error) == "cat.csv: column 'title': is missing; add it"
    error = DataValidationError("cat.csv", "bad", "fix", row=3)
    assert str(error) == "cat.csv: row 3: bad; fix"
    error = DataValidationError("cat.csv", "bad", "fix", row=0, column="x")
    assert str(error) == "cat.csv: row 0, column 'x': bad; fix"
    assert (error.file, error.row, error.column, error.problem, error.fix) == (
        "cat.csv",
        0,
        "x",
        "bad",
        "fix",
    )
    assert isinstance(error, ValueError)
