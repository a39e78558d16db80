"""The edge-case log generator makes what it promises: files the validator accepts, each
shape lacking exactly what it says, the same files for the same seed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionrank.datasets import load_catalog, load_logs, logs_to_pages
from fusionrank.simulator.session import REFORMULATE, session_outcomes
from tests.datasets.ownshop import SHAPES, LogShape, write_own_shop


@pytest.mark.parametrize("shape", SHAPES, ids=[s.name for s in SHAPES])
def test_every_shape_is_valid_and_lacks_what_it_says(tmp_path: Path, shape: LogShape) -> None:
    shop = write_own_shop(tmp_path, shape, seed=3)
    catalog = load_catalog(shop.catalog)
    assert not catalog.has_images and "supplier" in catalog.table.columns
    assert catalog.table["item_id"].str.fullmatch(r"SKU-\d{5}-[ABC]").all()
    raw = pd.read_csv(shop.catalog)
    assert raw["description"].isna().any()
    assert raw["category"].str.contains("/").all()
    pages = logs_to_pages(load_logs(shop.logs, catalog=catalog), catalog)
    assert not pages.has_propensities
    outcome = session_outcomes(pages).outcome
    reformulated = bool((outcome == REFORMULATE).any())
    assert reformulated == (shape.reformulation_rate > 0)
    assert bool((pages.page > 0).any()) == (shape.second_page_rate > 0)
    assert len(pages.query_ids) == shape.n_queries
    assert pages.has_purchases == shape.purchases_column
    bought = int(pages.purchases.sum())
    assert (bought > 0) == (shape.purchases_column and shape.purchase_rate > 0)
    clicked_ranks = np.flatnonzero(pages.clicks.any(axis=0))
    assert pages.clicks.sum() > 0
    assert (clicked_ranks.max() == 0) == shape.rank1_clicks_only
    sessions_per_query = pd.Series(pages.session).groupby(pages.query).nunique()
    assert (sessions_per_query.max() == 1) == shape.one_session_per_query


def test_same_seed_same_files_other_seed_other_logs(tmp_path: Path) -> None:
    shape = SHAPES[0]
    first = write_own_shop(tmp_path / "a", shape, seed=5)
    again = write_own_shop(tmp_path / "b", shape, seed=5)
    other = write_own_shop(tmp_path / "c", shape, seed=6)
    assert first.catalog.read_bytes() == again.catalog.read_bytes()
    assert first.logs.read_bytes() == again.logs.read_bytes()
    assert first.logs.read_bytes() != other.logs.read_bytes()
