"""Shared fixtures: a tiny seeded ShopWorld, generated once per test session, and the
real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fusionrank.datasets.shopworld.config import ShopWorldConfig
from fusionrank.datasets.shopworld.world import generate_world

TINY_WORLD = ShopWorldConfig(
    n_items=300, n_needs=30, n_pages=2000, image_size=32, candidate_pool=40
)
TINY_SEED = 11


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ShopWorld of 300 items and 2,000 logged pages: ``data/``, ``truth/``, summary."""
    folder = tmp_path_factory.mktemp("tiny") / "world"
    generate_world(TINY_WORLD, TINY_SEED, folder)
    return folder


SHARED_DATA_ENV = "FUSIONRANK_SHARED_DATA"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data folder (``../shared/data`` beside the repository root, or the folder
    that ``$FUSIONRANK_SHARED_DATA`` names); tests that use it skip when it is missing."""
    override = os.environ.get(SHARED_DATA_ENV)
    # tests/conftest.py -> parents[1] is the repository root; the data lives beside it.
    folder = (
        Path(override)
        if override
        else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
    if not folder.is_dir():
        pytest.skip(
            f"real data folder {folder} not found (a fresh machine has none); "
            f"set {SHARED_DATA_ENV} to the folder that holds obd/ and clara2/"
        )
    return folder
