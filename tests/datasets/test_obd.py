"""Open Bandit Dataset: a hand-made file with known arrays, and the real sample."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionrank.datasets import (
    DataValidationError,
    load_obd,
    load_obd_item_context,
    logs_to_pages,
    obd_catalog,
    obd_impressions,
)
from fusionrank.types import PAD


def write_obd(folder: Path) -> Path:
    """A four-impression OBD file (random policy, campaign men, three items)."""
    campaign = folder / "random" / "men"
    campaign.mkdir(parents=True)
    pd.DataFrame(
        {
            "timestamp": [
                "2019-11-24 00:00:00+00:00",
                "2019-11-24 00:00:10+00:00",
                "2019-11-24 00:00:20+00:00",
                "2019-11-24 00:00:30+00:00",
            ],
            "item_id": [2, 0, 1, 2],
            "position": [3, 1, 2, 1],
            "click": [0, 1, 0, 1],
            "propensity_score": [1 / 3] * 4,
            "user_feature_0": ["u", "v", "u", "v"],
            "user_feature_1": ["a", "a", "a", "b"],
            "user_feature_2": ["x"] * 4,
            "user_feature_3": ["y"] * 4,
            "user-item_affinity_0": [0.0, 1.0, 0.0, 0.5],
        }
    ).to_csv(campaign / "men.csv")
    pd.DataFrame(
        {
            "item_id": [0, 1, 2],
            "item_feature_0": [0.1, -0.2, 0.3],
            "item_feature_1": ["p", "q", "p"],
        }
    ).to_csv(campaign / "item_context.csv")
    return folder


def test_each_impression_is_one_page_at_its_position(tmp_path: Path) -> None:
    data = write_obd(tmp_path)
    logs = load_obd(data, policy="random", campaign="men")
    assert logs["session_id"].tolist() == [f"random/men/{i}" for i in range(4)]
    assert logs["positions"].tolist() == [[3], [1], [2], [1]]
    assert logs["item_ids"].tolist() == [["2"], ["0"], ["1"], ["2"]]
    assert set(logs["query_id"]) == {"men"} and set(logs["policy"]) == {"random"}
    assert logs["user_feature_1"].tolist() == ["a", "a", "a", "b"]
    pages = logs_to_pages(logs, catalog=obd_catalog(data, "random", "men"))
    # Column r holds position r + 1; item indices are OBD's item ids.
    np.testing.assert_array_equal(
        pages.item_index, [[PAD, PAD, 2], [0, PAD, PAD], [PAD, 1, PAD], [2, PAD, PAD]]
    )
    np.testing.assert_array_equal(pages.clicks.sum(1), [0, 1, 0, 1])
    np.testing.assert_allclose(np.nansum(pages.propensities, axis=1), [1 / 3] * 4)
    np.testing.assert_array_equal(np.diff(pages.timestamp), [10.0, 10.0, 10.0])


def test_impressions_as_bandit_arrays(tmp_path: Path) -> None:
    bandit = obd_impressions(write_obd(tmp_path), "random", "men")
    assert len(bandit) == 4 and bandit.n_items == 3
    np.testing.assert_array_equal(bandit.position, [3, 1, 2, 1])
    np.testing.assert_array_equal(bandit.item_index, [2, 0, 1, 2])
    np.testing.assert_array_equal(bandit.click, [False, True, False, True])
    # One-hot user features: u/v, a/b, x, y -> 6 columns, then one affinity column.
    assert bandit.context.shape == (4, 7)
    assert bandit.context_names[-1] == "user-item_affinity_0"
    np.testing.assert_array_equal(bandit.context[:, 0], [1, 0, 1, 0])
    # item_feature_0, then one-hot item_feature_1 (p, q).
    np.testing.assert_array_equal(bandit.action_context, [[0.1, 1, 0], [-0.2, 0, 1], [0.3, 1, 0]])
    assert load_obd_item_context(tmp_path, "random", "men")["item_id"].tolist() == ["0", "1", "2"]


def test_bad_arguments_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape("policy='greedy' is not an OBD policy")):
        load_obd(tmp_path, "greedy", "men")
    with pytest.raises(ValueError, match=re.escape("campaign='kids' is not an OBD campaign")):
        load_obd(tmp_path, "random", "kids")
    path = tmp_path / "bts" / "all" / "all.csv"
    message = (
        f"{path}: does not exist; pass the OBD folder that holds random/ and bts/"
        " (as shipped in obp)"
    )
    with pytest.raises(DataValidationError, match=re.escape(message)):
        load_obd(tmp_path, "bts", "all")


@pytest.fixture(scope="module")
def obd(shared_data: Path) -> Path:
    folder = shared_data / "obd"
    if not folder.is_dir():
        pytest.skip(f"OBD sample not found in {folder}")
    return folder


N_ITEMS = {"all": 80, "men": 34, "women": 46}


@pytest.mark.parametrize("campaign", ["all", "men", "women"])
def test_real_random_logs(obd: Path, campaign: str) -> None:
    raw = pd.read_csv(obd / "random" / campaign / f"{campaign}.csv", index_col=0)
    logs = load_obd(obd, "random", campaign)
    pages = logs_to_pages(logs, catalog=obd_catalog(obd, "random", campaign))
    assert len(pages) == 10_000 and pages.slate_size == 3
    assert pages.shown.sum(1).tolist() == [1] * 10_000
    # Under the random policy the propensity is 1 / n_items everywhere.
    np.testing.assert_allclose(pages.propensities[pages.shown], 1 / N_ITEMS[campaign])
    assert int(pages.clicks.sum()) == int(raw["click"].sum())
    rows, cols = np.nonzero(pages.shown)
    np.testing.assert_array_equal(cols + 1, raw["position"].to_numpy())
    np.testing.assert_array_equal(pages.item_index[rows, cols], raw["item_id"].to_numpy())


def test_real_rows_are_not_events_of_three(obd: Path) -> None:
    """The evidence behind one page per row: timestamps almost never repeat."""
    for policy in ("random", "bts"):
        raw = pd.read_csv(obd / policy / "all" / "all.csv", index_col=0)
        assert raw["timestamp"].duplicated().sum() < 20


def test_real_impressions(obd: Path) -> None:
    bandit = obd_impressions(obd, "bts", "all")
    assert len(bandit) == 10_000 and bandit.n_items == 80
    assert bandit.context.shape[0] == 10_000 and bandit.action_context.shape[0] == 80
    assert set(np.unique(bandit.position)) == {1, 2, 3}
    assert ((bandit.propensity > 0) & (bandit.propensity <= 1)).all()
    assert bandit.item_index.min() >= 0 and bandit.item_index.max() < 80
