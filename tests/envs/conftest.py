"""Fixtures for the env tests: a retriever (text and lexical modalities) and a user
simulator fitted on the tiny world's logs, prepared once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionrank.datasets import load_catalog, load_logs, logs_to_pages
from fusionrank.envs.components import EnvComponents
from fusionrank.envs.config import EnvConfig
from fusionrank.retrieval.config import RetrievalConfig
from fusionrank.retrieval.retriever import Retriever
from fusionrank.simulator.config import SimulatorConfig
from fusionrank.simulator.data import catalog_prices
from fusionrank.simulator.fitting import fit_simulator
from fusionrank.types import LoggedPages

ENV_CONFIG = EnvConfig(k=20, slate_size=5, max_pages=3, max_reformulations=1, batch_size=8)


@pytest.fixture(scope="session")
def env_pages(tiny_world: Path) -> LoggedPages:
    catalog = load_catalog(tiny_world / "data" / "catalog.parquet", check_images=False)
    return logs_to_pages(load_logs(tiny_world / "data" / "logs.parquet", catalog), catalog)


@pytest.fixture(scope="session")
def env_components(
    tiny_world: Path, env_pages: LoggedPages, tmp_path_factory: pytest.TempPathFactory
) -> EnvComponents:
    """The tiny world's retriever (no image modality, so no CLIP to train), a UBM
    simulator fitted on its logs with the retriever's pair features, and the env arrays."""
    catalog = load_catalog(tiny_world / "data" / "catalog.parquet", check_images=False)
    folder = tmp_path_factory.mktemp("env-retrieval")
    retriever = Retriever.build(
        catalog, RetrievalConfig(image=False, k_per_modality=30, k=20), folder
    )
    simulator = fit_simulator(
        env_pages,
        retriever,
        catalog_prices(catalog),
        SimulatorConfig(em_iterations=10, feature_rounds=1),
    )
    return EnvComponents.build(retriever, simulator, env_pages, ENV_CONFIG)
