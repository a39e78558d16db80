"""Fixtures for the retrieval tests: the tiny world's catalog, a tiny CLIP trained on it
and a retriever built over it (each once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fusionrank.datasets import load_catalog
from fusionrank.retrieval.clip_train import train_clip
from fusionrank.retrieval.config import ClipConfig, RetrievalConfig
from fusionrank.retrieval.retriever import Retriever
from fusionrank.types import Catalog

TINY_CLIP = ClipConfig(steps=40, batch_size=64, warmup_steps=4, learning_rate=2e-3)
"""A budget that trains the tiny architecture on the tiny world in a few seconds."""


def tiny_config(**update: object) -> RetrievalConfig:
    """The retrieval config of the tests: the tiny CLIP, small pools."""
    return RetrievalConfig(clip=TINY_CLIP, k_per_modality=30, k=20, threads=1, **update)  # type: ignore[arg-type]


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    """One faiss (OpenMP) thread: OpenMP's busy waiting makes 2 threads far slower than
    one when the test machine's cores are shared."""
    import faiss

    faiss.omp_set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_catalog(tiny_world: Path) -> Catalog:
    return load_catalog(tiny_world / "data" / "catalog.parquet")


@pytest.fixture(scope="session")
def retrieval_folder(tiny_catalog: Catalog, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run's ``retrieval`` folder with a tiny CLIP trained by ``train_clip``."""
    folder = tmp_path_factory.mktemp("retrieval")
    train_clip(tiny_catalog, TINY_CLIP, 5, folder / "clip", threads=1)
    return folder


@pytest.fixture(scope="session")
def tiny_retriever(tiny_catalog: Catalog, retrieval_folder: Path) -> Retriever:
    """Text, image (the trained tiny CLIP) and lexical modalities over the tiny world,
    saved to ``retrieval_folder/index``."""
    retriever = Retriever.build(tiny_catalog, tiny_config(), retrieval_folder)
    retriever.save(retrieval_folder)
    return retriever
