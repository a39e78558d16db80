"""FAISS indexes: the exact index is the oracle of the approximate ones (faiss's own
testing style), recall never falls as nprobe / efSearch rise, save/load round trips,
and bad factory strings are clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionrank.retrieval.config import IndexConfig
from fusionrank.retrieval.index import (
    apply_search_parameters,
    build_index,
    load_index,
    save_index,
    search,
)

N, DIM, K = 2_000, 32, 20


def unit_rows(n: int, seed: int) -> np.ndarray:
    """float32 (n, DIM): clustered unit vectors, so IVF cells mean something."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, DIM))
    x = centres[rng.integers(0, 40, n)] + 0.6 * rng.normal(size=(n, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Items, queries and the exact top-K item indices (numpy brute force)."""
    items, queries = unit_rows(N, 0), unit_rows(200, 1)
    exact = np.argsort(-(queries @ items.T), axis=1, kind="stable")[:, :K]
    return items, queries, exact


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of the exact top-K that ``found`` (Q, K) holds."""
    hits = [len(np.intersect1d(f, e)) for f, e in zip(found, exact, strict=True)]
    return float(np.mean(hits)) / exact.shape[1]


def test_flat_is_exact(data) -> None:
    items, queries, exact = data
    scores, found = search(build_index(items, IndexConfig(factory="Flat"), "f"), queries, K)
    assert recall(found, exact) == 1.0
    np.testing.assert_allclose(
        scores, np.take_along_axis(queries @ items.T, found, axis=1), rtol=1e-5, atol=1e-6
    )
    assert (np.diff(scores, axis=1) <= 1e-6).all()


@pytest.mark.parametrize(
    ("factory", "parameter", "values"),
    [("IVF32,Flat", "nprobe", [1, 2, 4, 8, 32]), ("HNSW8", "ef_search", [4, 8, 16, 64, 256])],
)
def test_recall_does_not_fall_as_search_widens(data, factory, parameter, values) -> None:
    items, queries, exact = data
    index = build_index(items, IndexConfig(factory=factory), "f")
    recalls = []
    for value in values:
        config = IndexConfig(factory=factory, **{parameter: value})
        apply_search_parameters(index, config)
        recalls.append(recall(search(index, queries, K)[1], exact))
    assert recalls == sorted(recalls), recalls
    assert recalls[0] < 0.95 and recalls[-1] >= 0.99, recalls  # the knob matters
    if factory.startswith("IVF"):
        assert recalls[-1] == 1.0  # nprobe = nlist visits every cell: exact


def test_exact_refinement_recovers_what_product_quantization_loses(data) -> None:
    """Fast-scan PQ over every cell, its top k * k_factor re-scored exactly: recall rises
    with k_factor, and the refined scores are the exact inner products."""
    items, queries, exact = data
    factory = "IVF8,PQ16x4fs,RFlat"
    index = build_index(items, IndexConfig(factory=factory, nprobe=8), "f")
    recalls = []
    for k_factor in (1.0, 2.0, 4.0, 16.0):
        apply_search_parameters(
            index, IndexConfig(factory=factory, nprobe=8, refine_k_factor=k_factor)
        )
        scores, found = search(index, queries, K)
        recalls.append(recall(found, exact))
        np.testing.assert_allclose(
            scores, np.take_along_axis(queries @ items.T, found, axis=1), rtol=1e-5, atol=1e-6
        )
    assert recalls == sorted(recalls), recalls
    assert recalls[0] < 0.95 and recalls[-1] >= 0.99, recalls


@pytest.mark.parametrize(
    "config",
    [
        IndexConfig(factory="HNSW8", ef_search=32),
        IndexConfig(factory="IVF8,PQ16x4fs,RFlat", nprobe=2, refine_k_factor=3.0),
    ],
)
def test_saved_index_gives_identical_results(data, tmp_path: Path, config) -> None:
    items, queries, _ = data
    index = build_index(items, config, "f")
    save_index(index, tmp_path / "x.faiss")
    loaded = load_index(tmp_path / "x.faiss", config)
    for a, b in zip(search(index, queries, K), search(loaded, queries, K), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("factory", ["Flatt", "HNSWx", "IVFx,Flat", "PQ7"])
def test_unknown_factory_string_is_a_clear_error(factory: str) -> None:
    with pytest.raises(ValueError, match=r"retrieval\.text_index\.factory.*faiss"):
        build_index(unit_rows(100, 0), IndexConfig(factory=factory), "retrieval.text_index")


def test_too_many_ivf_cells_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="fewer IVF cells"):
        build_index(unit_rows(50, 0), IndexConfig(factory="IVF256,Flat"), "retrieval.text_index")


def test_missing_index_file_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="index build"):
        load_index(tmp_path / "none.faiss", IndexConfig())


def test_embedding_cache_stores_items_with_the_same_content_once(tmp_path):
    from fusionrank.retrieval.cache import EmbeddingCache

    cache = EmbeddingCache(tmp_path)
    vectors = np.arange(8, dtype=np.float32).reshape(4, 2)
    cache.add("model", ["a", "b", "a", "c"], vectors)
    found, got = cache.lookup("model", ["c", "a", "a", "d"], 2)
    assert found.tolist() == [True, True, True, False]
    np.testing.assert_array_equal(got[:3], vectors[[3, 0, 0]])
    cache.add("model", ["a", "d"], vectors[:2] + 10)
    found, got = cache.lookup("model", ["a", "b", "d"], 2)
    assert found.all()
    np.testing.assert_array_equal(got, [vectors[0] + 10, vectors[1], vectors[1] + 10])
