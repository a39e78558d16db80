"""Batched retrieval for the event loop: concurrent new queries share batches, one that
waits too long is refused, and each ends up cached."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fusionrank.retrieval.retriever import Retriever
from fusionrank.service.config import ServiceConfig
from fusionrank.service.context import RetrievalCache
from fusionrank.service.loading import serving_retriever
from fusionrank.service.prefetch import Prefetcher
from fusionrank.service.shedding import Overloaded


@pytest.fixture(scope="module")
def retriever(service_run: Path) -> Retriever:
    config = ServiceConfig(text_encoder="torch")
    return serving_retriever(Retriever.load(service_run / "retrieval"), config, None)


async def _ensure_all(prefetch: Prefetcher, cache: RetrievalCache, texts: list[str]) -> list:
    return await asyncio.gather(*(prefetch.ensure(cache, t) for t in texts), return_exceptions=True)


def test_concurrent_new_queries_share_batches(retriever: Retriever) -> None:
    cache = RetrievalCache(retriever, size=100, max_batch=8, max_wait_s=0.0)
    prefetch = Prefetcher(ServiceConfig(encode_batch=8, max_queue_ms=60_000))
    texts = [f"red cotton shirt {i}" for i in range(20)] + ["red cotton shirt 3"]  # a repeat
    assert asyncio.run(_ensure_all(prefetch, cache, texts)) == [None] * 21
    assert all(t in cache for t in texts) and cache.queries == 20
    assert cache.batches <= 4  # the first alone, then the rest in batches of <= 8
    prefetch.close()


def test_a_query_that_waits_too_long_is_refused(retriever: Retriever) -> None:
    cache = RetrievalCache(retriever, size=100, max_batch=2, max_wait_s=0.0)
    prefetch = Prefetcher(ServiceConfig(encode_batch=2, max_queue_ms=1.0))
    texts = [f"blue striped dress {i}" for i in range(12)]
    out = asyncio.run(_ensure_all(prefetch, cache, texts))
    refused = [o for o in out if isinstance(o, Overloaded)]
    assert refused and out[0] is None  # the first starts at once
    assert "service.max_queue_ms=1" in refused[0].message and refused[0].retry_after_s == 1
    assert [t in cache for t, o in zip(texts, out, strict=True)] == [o is None for o in out]
    prefetch.close()
