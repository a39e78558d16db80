"""What the service knows about a query before it scores candidates: its query features,
the policy's fusion weights and the retriever's candidate pool, cached per query text.

A query not in the cache is computed in a micro-batch with the other new queries of the
moment (:class:`~fusionrank.service.batching.MicroBatcher`): one ``query_features`` and
one ``pool`` call of the retriever for the whole batch (one encoder pass, one faiss search
per modality). A cached query re-ranks catalog ids from its pool with no encoder or index
call; ids outside the pool get ``Retriever.pair_features``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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
class QueryContext:
    """One query's cached state.

    Args:
        query: The query.
        query_features: float32, shape (1, Dq); None without a retriever.
        fusion_weights: float64, shape (M,): :meth:`Policy.weights_for`; None when the
            policy has none (no own, no saved defaults, no retriever).
        pool: The retriever's candidate pool of the query (1 row); None without one.
        sorted_items: int64 (P',): the pool's catalog indices, sorted.
        sorted_slots: int64 (P',): their slots in the pool.
    """

    query: Query
    query_features: np.ndarray | None
    fusion_weights: np.ndarray | None
    pool: CandidatePool | None = None
    sorted_items: np.ndarray | None = None
    sorted_slots: np.ndarray | None = None

    def pool_rows(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pair features but ``fused_score`` of catalog items from the pool.

        Args:
            index: int64 (K,): catalog item indices.

        Returns:
            ``(found bool (K,), rows float32 (K, F - 1))``; rows are 0 where not found.
        """
        assert self.pool is not None and self.sorted_items is not None
        assert self.sorted_slots is not None
        width = self.pool.features.shape[2]
        if self.sorted_items.size == 0:
            return np.zeros(index.shape, bool), np.zeros((index.size, width), np.float32)
        at = np.minimum(np.searchsorted(self.sorted_items, index), self.sorted_items.size - 1)
        found = self.sorted_items[at] == index
        rows = self.pool.features[0, self.sorted_slots[at]]
        return found, np.where(found[:, None], rows, 0.0).astype(np.float32)


def compute_contexts(
    policy: Policy, retriever: Retriever | None, texts: Sequence[str]
) -> list[QueryContext]:
    """Contexts of distinct query texts, batched through the retriever."""
    queries = [Query(QUERY_ID, t) for t in texts]
    if retriever is None:
        weights = policy.weights_for(queries, None, None)
        return [
            QueryContext(q, None, None if weights is None else weights[i])
            for i, q in enumerate(queries)
        ]
    qf = retriever.query_features(queries)
    weights = policy.weights_for(queries, qf, retriever)
    assert weights is not None
    pool = retriever.pool(queries)
    out = []
    for i, query in enumerate(queries):
        one = pool.take(np.array([i]))
        slots = np.flatnonzero(one.mask[0])
        items = one.item_index[0, slots]
        order = np.argsort(items, kind="stable")
        out.append(QueryContext(query, qf[i : i + 1], weights[i], one, items[order], slots[order]))
    return out


class ContextCache:
    """Query contexts by text: an LRU in front of a micro-batched computation.

    Args:
        policy: The serving policy.
        retriever: The run's retriever, or None.
        size: Contexts kept (``service.query_cache``).
        max_batch: Most new queries computed together (``service.encode_batch``).
        max_wait_s: Longest a new query waits for others (``service.encode_wait_ms``).
        busy: Re-ranks in flight, the caller's included (the batch waits only for more).
    """

    def __init__(
        self,
        policy: Policy,
        retriever: Retriever | None,
        size: int,
        max_batch: int,
        max_wait_s: float,
        busy: Callable[[], int] | None = None,
    ) -> None:
        self._lru: LockedLRU[QueryContext] = LockedLRU(size)
        self.batcher: MicroBatcher[QueryContext] = MicroBatcher(
            lambda texts: compute_contexts(policy, retriever, texts), max_batch, max_wait_s, busy
        )

    def get(self, text: str) -> QueryContext:
        """The context of ``text`` (computed, in a batch, if not cached)."""
        context = self._lru.get(text)
        if context is None:
            context = self.batcher(text)
            self._lru.put(text, context)
        return context

    def peek(self, text: str) -> QueryContext | None:
        """The cached context of ``text``, or None (never computes)."""
        return self._lru.get(text)

    def __contains__(self, text: str) -> bool:
        return text in self._lru
