"""Shared fixtures: a tiny seeded ShopWorld, generated once per test session."""

from __future__ import annotations

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
