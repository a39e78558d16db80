"""The retriever on the tiny world: fusion against each modality's own ranking, exact
pooled scores, save/load, the embedding cache, pair features, and bad input."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from fusionrank.retrieval.pool import fuse
from fusionrank.retrieval.retriever import Retriever
from fusionrank.types import PAD, Catalog, Query

from .conftest import tiny_config

QUERIES = [
    Query("a", "red striped t-shirt"),
    Query("b", "blue denim jacket"),
    Query("c", "red striped t-shirt"),  # a repeat: same results as "a"
    Query("d", "zzzz qqqq"),  # no catalog word
]


def world_queries(catalog: Catalog, n: int = 12) -> list[Query]:
    """Item titles as queries (every word is a catalog word)."""
    titles = catalog.table["title"].astype(str).tolist()
    return [Query(str(i), titles[i * 7 % len(titles)]) for i in range(n)]


def test_weight_one_reproduces_each_modality_ranking(tiny_retriever, tiny_catalog) -> None:
    queries = [*QUERIES, *world_queries(tiny_catalog)]
    pool = tiny_retriever.pool(queries)
    texts = [q.text for q in queries]
    k = tiny_retriever.config.k_per_modality
    for axis, modality in enumerate(tiny_retriever.modalities):
        hits = modality.search(modality.encode(texts), k)
        weights = np.zeros((len(queries), len(tiny_retriever.modalities)), dtype=np.float32)
        weights[:, axis] = 1.0
        batch = fuse(pool, weights, k)
        found = np.isfinite(hits.scores)  # lexical: only items sharing a query word
        assert found[:, 0].all() or modality.name == "lexical"
        fused_scores = np.where(found, batch.modality_scores[..., axis], -np.inf)
        # same scores in the same order (items may swap only within exact ties)
        np.testing.assert_allclose(fused_scores, hits.scores, rtol=1e-5, atol=1e-5)
        assert batch.mask[found].all()
        with np.errstate(invalid="ignore"):  # -inf - -inf past the last lexical hit
            distinct = np.diff(hits.scores, axis=1, prepend=np.inf) < -1e-4
            distinct[:, :-1] &= np.diff(hits.scores, axis=1) < -1e-4
        np.testing.assert_array_equal(batch.item_index[distinct], hits.items[distinct])
    lexical = tiny_retriever.modalities[-1]
    assert not np.isfinite(lexical.search(lexical.encode(["zzzz qqqq"]), 10).scores).any()


def test_pooled_scores_are_exact_in_every_modality(tiny_retriever) -> None:
    """A candidate found by one modality still gets its exact score in the others."""
    pool = tiny_retriever.pool(QUERIES[:2])
    for name, modality in tiny_retriever.dense.items():
        axis = tiny_retriever.modality_names.index(name)
        q = modality.encode([q.text for q in QUERIES[:2]])
        for row in range(2):
            items = pool.item_index[row][pool.mask[row]]
            expected = modality.vectors[items] @ q[row]
            got = pool.modality_scores[row][pool.mask[row]][:, axis]
            np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_search_batches_repeats_and_pads(tiny_retriever) -> None:
    batch = tiny_retriever.search(QUERIES, k=15)
    assert batch.item_index.shape == (4, 15)
    assert batch.feature_names == tiny_retriever.feature_names
    np.testing.assert_array_equal(batch.item_index[0], batch.item_index[2])
    assert batch.mask[:3].all()
    for row in range(4):
        items = batch.item_index[row][batch.mask[row]]
        assert len(set(items.tolist())) == items.size  # no duplicates
        fused = batch.features[row, batch.mask[row], -1]
        assert (np.diff(fused) <= 1e-6).all()
    assert (batch.item_index[~batch.mask] == PAD).all()


def test_pair_features_match_fused_candidates(tiny_retriever) -> None:
    batch = tiny_retriever.search(QUERIES[:2], k=20)
    again = tiny_retriever.pair_features([q.text for q in QUERIES[:2]], batch.item_index)
    np.testing.assert_allclose(again, batch.features, rtol=1e-4, atol=1e-5)
    shown = np.full((2, 3), PAD, dtype=np.int64)
    shown[0, 0] = 5
    features = tiny_retriever.pair_features(["red dress", "shoes"], shown)
    assert features.shape == (2, 3, len(tiny_retriever.feature_names))
    assert (features[shown == PAD] == 0).all() and features[0, 0].any()


def test_query_features_have_their_names(tiny_retriever) -> None:
    features = tiny_retriever.query_features(QUERIES)
    assert features.shape == (4, len(tiny_retriever.query_feature_names))
    assert features.dtype == np.float32 and np.isfinite(features).all()
    np.testing.assert_array_equal(features[0], features[2])


def test_saved_retriever_gives_identical_results(tiny_retriever, retrieval_folder) -> None:
    loaded = Retriever.load(retrieval_folder)
    assert loaded.modality_names == tiny_retriever.modality_names == ("text", "image", "lexical")
    a, b = tiny_retriever.search(QUERIES), loaded.search(QUERIES)
    np.testing.assert_array_equal(a.item_index, b.item_index)
    # The two retrievers encode the queries with two instances of the text model; under
    # a loaded machine the BLAS may split the same products differently (seen: 1e-6).
    np.testing.assert_allclose(a.features, b.features, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        tiny_retriever.query_features(QUERIES), loaded.query_features(QUERIES), atol=1e-6
    )


def test_rebuild_reads_the_embedding_cache(
    tiny_catalog, retrieval_folder, tiny_retriever, caplog
) -> None:
    with caplog.at_level(logging.INFO, logger="fusionrank.retrieval.encoders"):
        again = Retriever.build(tiny_catalog, tiny_config(), retrieval_folder)
    n = len(tiny_catalog)
    assert f"{n} of {n} texts cached" in caplog.text
    assert f"{n} of {n} images cached" in caplog.text
    for name, modality in again.dense.items():
        np.testing.assert_array_equal(modality.vectors, tiny_retriever.dense[name].vectors)


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_query_is_a_clear_error(tiny_retriever, text: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        tiny_retriever.search([_blank(text)])


def _blank(text: str) -> Query:
    """A Query with a blank text (Query itself refuses one; a duck-typed object doesn't)."""
    query = object.__new__(Query)
    object.__setattr__(query, "query_id", "blank")
    object.__setattr__(query, "text", text)
    return query


def test_bad_fusion_weights_are_a_clear_error(tiny_retriever) -> None:
    with pytest.raises(ValueError, match="fusion_weights must have shape"):
        tiny_retriever.search(QUERIES[:1], fusion_weights=np.ones((1, 2), np.float32) / 2)
    with pytest.raises(ValueError, match="sum to 1"):
        tiny_retriever.search(QUERIES[:1], fusion_weights=np.ones((1, 3), np.float32))


def test_missing_image_fails_before_any_index_is_written(
    tiny_world: Path, tmp_path: Path, retrieval_folder: Path, tiny_retriever
) -> None:
    import shutil

    from fusionrank.datasets import load_catalog

    world = tmp_path / "world"
    shutil.copytree(tiny_world / "data", world)
    catalog = load_catalog(world / "catalog.parquet")
    missing = catalog.image_paths()[17]
    missing.unlink()
    folder = tmp_path / "retrieval"
    for part in ("clip", "cache"):
        shutil.copytree(retrieval_folder / part, folder / part)
    with pytest.raises(ValueError, match=rf"{missing.name} does not exist"):
        Retriever.build(catalog, tiny_config(), folder)
    assert not (folder / "index").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["cache", "clip"]


def test_a_moved_run_folder_still_loads(retrieval_folder: Path, tiny_retriever, tmp_path) -> None:
    import shutil

    from fusionrank.io import read_json, write_json

    moved = tmp_path / "retrieval"
    for part in ("clip", "index"):
        shutil.copytree(retrieval_folder / part, moved / part)
    manifest = read_json(moved / "index" / "manifest.json")
    manifest["clip"]["checkpoint"] = str(tmp_path / "gone" / "model.pt")  # the old place
    write_json(moved / "index" / "manifest.json", manifest)
    loaded = Retriever.load(moved)
    np.testing.assert_array_equal(
        loaded.search(QUERIES).item_index, tiny_retriever.search(QUERIES).item_index
    )
