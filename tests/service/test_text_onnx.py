"""The ONNX query encoder against the torch one it replaces: the same vectors, the same
top-10 of the text index, and the export cached once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionrank.datasets import load_catalog, load_logs, logs_to_pages
from fusionrank.retrieval.encoders import resolve_text_model
from fusionrank.retrieval.retriever import Retriever
from fusionrank.service.text_onnx import (
    PROBE_TEXTS,
    check_text_encoder,
    export_name,
    load_text_encoder,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def retriever(service_run: Path) -> Retriever:
    return Retriever.load(service_run / "retrieval")


def _encoder(retriever: Retriever, exports: Path, quantized: bool):  # type: ignore[no-untyped-def]
    record = retriever.manifest["text_model"]
    return load_text_encoder(
        resolve_text_model(record["path"]), record["identity"], exports, quantized, 1
    )


def _top10(retriever: Retriever, vectors: np.ndarray) -> np.ndarray:
    return retriever.dense["text"].search(vectors, 10).items


def test_onnx_encoder_gives_the_torch_vectors_and_top10(
    retriever: Retriever, tiny_world: Path, tmp_path: Path
) -> None:
    encoder = _encoder(retriever, tmp_path, quantized=False)
    torch_encode = retriever.dense["text"].encode
    assert check_text_encoder(encoder, torch_encode) > 0.9999
    catalog = load_catalog(tiny_world / "data" / "catalog.parquet")
    pages = logs_to_pages(load_logs(tiny_world / "data" / "logs.parquet", catalog), catalog)
    texts = sorted({str(t) for t in pages.query_texts})
    assert len(texts) >= 30
    want, got = torch_encode(texts), encoder(texts)
    assert np.abs(got - want).max() < 1e-4
    same = (_top10(retriever, got) == _top10(retriever, want)).all(axis=1)
    assert same.mean() >= 0.99, f"top-10 agreement {same.mean():.3f}"
    cached = tmp_path / export_name(retriever.manifest["text_model"]["identity"], False)
    stamp = cached.stat().st_mtime_ns
    again = _encoder(retriever, tmp_path, quantized=False)  # from the cache, not exported
    assert cached.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again(list(PROBE_TEXTS)), encoder(list(PROBE_TEXTS)))


def test_int8_encoder_stays_close(retriever: Retriever, tmp_path: Path) -> None:
    encoder = _encoder(retriever, tmp_path, quantized=True)
    assert encoder.quantized
    cosine = check_text_encoder(encoder, retriever.dense["text"].encode)
    assert 0.9 <= cosine < 1.0
    int8 = tmp_path / export_name(retriever.manifest["text_model"]["identity"], True)
    assert int8.stat().st_size < 70e6  # fp32: ~90 MB; the embedding table stays fp32
