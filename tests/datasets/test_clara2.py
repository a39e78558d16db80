"""CLARA2: click attribution on a hand-made log, and the data README's figures."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionrank.datasets import (
    DataValidationError,
    label_query_overlap,
    load_clara2_log,
    load_clara2_relevance,
    logs_to_pages,
    map_label_queries,
)

PAGE_A = [str(u) for u in range(11, 21)]
PAGE_B = ["13", "21", "13", *[str(u) for u in range(22, 29)]]


def query(session: int, time: int, query_id: int, urls: list[str]) -> str:
    return "\t".join([str(session), str(time), "Q", str(query_id), "0.0", *urls])


def click(session: int, time: int, url: str, padded: bool = True) -> str:
    return "\t".join([str(session), str(time), "C", url] + [""] * (11 if padded else 0))


def write_log(folder: Path, padded: bool = True) -> Path:
    lines = [
        query(0, 0, 5, PAGE_A),
        click(0, 1500, "12", padded),  # rank 2
        click(0, 2500, "12"),  # again: counted twice, one click flag
        query(0, 4000, 6, PAGE_B),  # url 13 at ranks 1 and 3
        click(0, 5000, "13"),  # goes to its last rank, 3
        click(0, 6000, "11"),  # shown on the earlier page only: dropped
        click(1, 9000, "11"),  # before session 1's first query line: dropped
        query(1, 10000, 5, PAGE_A),
    ]
    path = folder / "log.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("padded", [True, False], ids=["padded", "short click lines"])
def test_hand_made_log(tmp_path: Path, padded: bool) -> None:
    logs = load_clara2_log(write_log(tmp_path, padded))
    assert logs["session_id"].tolist() == ["0", "0", "1"]
    assert logs["query_id"].tolist() == ["5", "6", "5"]
    assert logs["query_text"].tolist() == ["q5", "q6", "q5"]
    assert logs["timestamp"].tolist() == [0.0, 4.0, 10.0]  # milliseconds -> seconds
    assert logs["item_ids"].tolist() == [PAGE_A, PAGE_B[1:], PAGE_A]
    assert logs["positions"].tolist() == [
        list(range(1, 11)),
        list(range(2, 11)),
        list(range(1, 11)),
    ]
    assert logs["click_counts"].tolist()[0] == [0, 2, 0, 0, 0, 0, 0, 0, 0, 0]
    assert logs["click_counts"].tolist()[1] == [0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert logs.attrs == {"click_lines": 5, "unattributed_clicks": 2}
    assert set(logs["policy"]) == {"clara2"} and set(logs["page"]) == {0}
    pages = logs_to_pages(logs)
    assert not pages.has_purchases and not pages.has_propensities
    np.testing.assert_array_equal(np.flatnonzero(pages.clicks[0]), [1])
    np.testing.assert_array_equal(np.flatnonzero(pages.clicks[1]), [2])
    assert pages.item_index[1, 0] == -1  # the earlier copy of url 13 is left out
    assert not pages.clicks[2].any()


def test_log_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(query(0, 0, 5, PAGE_A) + "\n" + "0\t10\tX\t12\n")
    message = (
        f"{path}: line 2 has action 'X', not 'Q' or 'C'; give query lines 'session time Q"
        " query region urls' and click lines 'session time C url'"
    )
    with pytest.raises(DataValidationError, match=re.escape(message)):
        load_clara2_log(path)
    missing = tmp_path / "none"
    message = f"{missing}: does not exist; pass the CLARA2SearchLog_beta file of the data folder"
    with pytest.raises(DataValidationError, match=re.escape(message)):
        load_clara2_log(missing)


def write_labels(folder: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = folder / "labels.tsv"
    lines = ["query\turl\trelevance", *("\t".join(r) for r in rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_label_queries_map_by_url_overlap(tmp_path: Path) -> None:
    logs = load_clara2_log(write_log(tmp_path))
    labels = load_clara2_relevance(
        write_labels(
            tmp_path,
            [
                ("100", "11", "3"),  # all three urls shown under log query 5
                ("100", "12", "2"),
                ("100", "13", "1"),
                ("101", "21", "4"),  # two of three shown under log query 6
                ("101", "22", "5"),
                ("101", "99", "2"),
                ("102", "99", "2"),  # never shown
            ],
        )
    )
    assert labels["relevance"].tolist() == [3, 2, 1, 4, 5, 2, 2]
    overlap = label_query_overlap(labels, logs)
    assert overlap.to_dict("list") == {
        "label_query": ["100", "101"],
        "log_query": ["5", "6"],  # url 13 is also under 6, but 5 shows all three
        "n_labelled": [3, 3],
        "n_shared": [3, 2],
        "share": [1.0, 2 / 3],
    }
    assert map_label_queries(labels, logs) == {"100": "5", "101": "6"}
    assert map_label_queries(labels, logs, min_share=0.7) == {"100": "5"}


def test_bad_grade(tmp_path: Path) -> None:
    path = write_labels(tmp_path, [("1", "2", "3"), ("1", "3", "seven")])
    message = f"{path}: row 1, column 'relevance': holds 'seven'; grades are integers from 0 to 5"
    with pytest.raises(DataValidationError, match=re.escape(message)):
        load_clara2_relevance(path)


@pytest.fixture(scope="module")
def clara2(shared_data: Path) -> Path:
    folder = shared_data / "clara2"
    if not folder.is_dir():
        pytest.skip(f"CLARA2 data not found in {folder}")
    return folder


@pytest.fixture(scope="module")
def real_logs(clara2: Path) -> pd.DataFrame:
    return load_clara2_log(clara2 / "CLARA2SearchLog_beta")


def test_real_log_reproduces_the_readme(real_logs: pd.DataFrame) -> None:
    assert len(real_logs) == 31_564
    assert real_logs.attrs == {"click_lines": 11_613, "unattributed_clicks": 724}
    counts = np.zeros(10, dtype=np.int64)
    positions = np.concatenate(real_logs["positions"].to_numpy())
    np.add.at(counts, positions - 1, np.concatenate(real_logs["click_counts"].to_numpy()))
    assert counts.tolist() == [5618, 2180, 1074, 584, 525, 259, 207, 180, 131, 131]
    assert real_logs["query_id"].nunique() == 1951
    assert (real_logs["item_ids"].map(len) < 10).sum() == 90  # pages with a repeated url
    pages = logs_to_pages(real_logs)
    assert pages.slate_size == 10 and int(pages.clicks.sum()) == 9326


def test_real_labels_and_query_mapping(clara2: Path, real_logs: pd.DataFrame) -> None:
    labels = load_clara2_relevance(clara2 / "CLARA2QueryUrlRelevance_beta")
    assert len(labels) == 48_691
    assert set(labels["relevance"]) == {0, 1, 2, 3, 4, 5}
    shown = real_logs[["query_id", "item_ids"]].explode("item_ids").drop_duplicates()
    assert len(shown) == 41_073
    joined = shown.merge(labels, left_on=["query_id", "item_ids"], right_on=["query", "url"])
    assert len(joined) == 455  # why the ids need mapping
    overlap = label_query_overlap(labels, real_logs)
    mapping = map_label_queries(labels, real_logs)
    assert mapping["0"] == "0" and mapping["1000"] == "996"
    assert overlap["share"].median() == 1.0
    assert len(mapping) == len(overlap) > 1900
