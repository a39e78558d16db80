"""What the service knows about a query before it scores candidates, cached per query
text in two layers:

* :class:`RetrievalCache` (one per retriever, kept across reloads that keep the
  retriever): the query features and the retriever's candidate pool. A query not in it
  is computed in a micro-batch with the other new queries of the moment
  (:class:`~fusionrank.service.batching.MicroBatcher`): one ``query_features`` and one
  ``pool`` call of the retriever for the whole batch (one encoder pass, one faiss
  search per modality).
* :class:`ContextCache` (one per policy): that, plus the policy's fusion weights
  (:meth:`Policy.weights_for`).

A cached query re-ranks catalog ids from its pool with no encoder or index call; ids
outside the pool get ``Retriever.pair_features``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from fusionrank.service.batching import LockedLRU, MicroBatcher
from fusionrank.types import Query

if TYPE_CHECKING:
    from fusionrank.agents.policy import Policy
    from fusionrank.retrieval.pool import CandidatePool
    from fusionrank.retrieval.retriever import Retriever

QUERY_ID = "service"


@dataclass(frozen=True, eq=False)
class Retrieved:
    """One query's retriever state.

    Args:
        query_features: float32, shape (1, Dq).
        pool: The retriever's candidate pool of the query (1 row).
        sorted_items: int64 (P',): the pool's catalog indices, sorted.
        sorted_slots: int64 (P',): their slots in the pool.
    """

    query_features: np.ndarray
    pool: CandidatePool
    sorted_items: np.ndarray
    sorted_slots: np.ndarray

    def pool_rows(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pair features but ``fused_score`` of catalog items from the pool.

        Args:
            index: int64 (K,): catalog item indices.

        Returns:
            ``(found bool (K,), rows float32 (K, F - 1))``; rows are 0 where not found.
        """
        width = self.pool.features.shape[2]
        if self.sorted_items.size == 0:
            return np.zeros(index.shape, bool), np.zeros((index.size, width), np.float32)
        at = np.minimum(np.searchsorted(self.sorted_items, index), self.sorted_items.size - 1)
        found = self.sorted_items[at] == index
        rows = self.pool.features[0, self.sorted_slots[at]]
        return found, np.where(found[:, None], rows, 0.0).astype(np.float32)


def retrieve(retriever: Retriever, texts: Sequence[str]) -> list[Retrieved]:
    """The retriever state of distinct query texts, in one batch."""
    queries = [Query(QUERY_ID, t) for t in texts]
    qf = retriever.query_features(queries)
    pool = retriever.pool(queries)
    out = []
    for i in range(len(queries)):
        one = pool.take(np.array([i]))
        slots = np.flatnonzero(one.mask[0])
        items = one.item_index[0, slots]
        order = np.argsort(items, kind="stable")
        out.append(Retrieved(qf[i : i + 1], one, items[order], slots[order]))
    return out


class RetrievalCache:
    """:class:`Retrieved` by query text: an LRU in front of micro-batched retrieval.

    Args:
        retriever: The serving retriever.
        size: Queries kept (``service.query_cache``).
        max_batch: Most new queries computed together (``service.encode_batch``).
        max_wait_s: Longest a new query waits for others (``service.encode_wait_ms``);
            only while other callers are on their way.
    """

    def __init__(self, retriever: Retriever, size: int, max_batch: int, max_wait_s: float):
        self.retriever = retriever
        self._lru: LockedLRU[Retrieved] = LockedLRU(size)
        self._callers = 0
        self._lock = threading.Lock()
        self.batches = 0  # retrieval batches run so far, and the queries in them
        self.queries = 0
        self.batcher: MicroBatcher[Retrieved] = MicroBatcher(
            self._retrieve, max_batch, max_wait_s, lambda: self._callers
        )

    def _retrieve(self, texts: list[str]) -> list[Retrieved]:
        found = retrieve(self.retriever, texts)
        with self._lock:
            self.batches += 1
            self.queries += len(texts)
        return found

    def get(self, text: str) -> Retrieved:
        """The state of ``text`` (computed in a batch if not cached)."""
        found = self._lru.get(text)
        if found is not None:
            return found
        with self._lock:
            self._callers += 1
        try:
            found = self.batcher(text)
        finally:
            with self._lock:
                self._callers -= 1
        self._lru.put(text, found)
        return found

    def compute(self, texts: list[str]) -> list[Exception | None]:
        """Compute and cache the state of distinct ``texts`` in one batch (what the HTTP
        service's prefetcher calls); a text that fails is retried alone, so it fails
        alone. Returns each text's error, or None."""
        try:
            found: list[Retrieved | Exception] = list(self._retrieve(texts))
        except Exception:
            found = []
            for text in texts:
                try:
                    found.append(self._retrieve([text])[0])
                except Exception as error:
                    found.append(error)
        for text, result in zip(texts, found, strict=True):
            if isinstance(result, Retrieved):
                self._lru.put(text, result)
        return [result if isinstance(result, Exception) else None for result in found]

    def __contains__(self, text: str) -> bool:
        return text in self._lru


@dataclass(frozen=True, eq=False)
class QueryContext:
    """One query's state for one policy.

    Args:
        query: The query.
        fusion_weights: float64, shape (M,): :meth:`Policy.weights_for`; None when the
            policy has none (no own, no saved defaults, no retriever).
        retrieved: The retriever state, or None without a retriever.
    """

    query: Query
    fusion_weights: np.ndarray | None
    retrieved: Retrieved | None = None

    @property
    def query_features(self) -> np.ndarray | None:
        """float32 (1, Dq), or None without a retriever."""
        return None if self.retrieved is None else self.retrieved.query_features

    @property
    def pool(self) -> CandidatePool | None:
        return None if self.retrieved is None else self.retrieved.pool


class ContextCache:
    """Query contexts of one policy by text, over a shared :class:`RetrievalCache`.

    Args:
        policy: The serving policy.
        retrieval: The retriever's cache, or None without a retriever.
        size: Contexts kept (``service.query_cache``).
    """

    def __init__(self, policy: Policy, retrieval: RetrievalCache | None, size: int) -> None:
        self.policy = policy
        self.retrieval = retrieval
        self._lru: LockedLRU[QueryContext] = LockedLRU(size)

    def get(self, text: str) -> QueryContext:
        """The context of ``text`` (its retrieval computed, in a batch, if not cached)."""
        context = self._lru.get(text)
        if context is None:
            query = Query(QUERY_ID, text)
            if self.retrieval is None:
                weights = self.policy.weights_for([query], None, None)
                context = QueryContext(query, None if weights is None else weights[0])
            else:
                found = self.retrieval.get(text)
                weights = self.policy.weights_for(
                    [query], found.query_features, self.retrieval.retriever
                )
                assert weights is not None
                context = QueryContext(query, weights[0], found)
            self._lru.put(text, context)
        return context

    def peek(self, text: str) -> QueryContext | None:
        """The context of ``text`` when it costs no retrieval (never encodes), or None."""
        context = self._lru.get(text)
        if context is None and self.retrieval is not None and text in self.retrieval:
            context = self.get(text)  # retrieval cached: only the policy's weights
        return context

    def __contains__(self, text: str) -> bool:
        return text in self._lru or (self.retrieval is not None and text in self.retrieval)
