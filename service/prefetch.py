"""Batched retrieval of new queries for the event loop.

A request whose query is not cached awaits :meth:`Prefetcher.ensure`: its text joins a
queue, and one thread computes the queue in batches of up to ``service.encode_batch``
(:meth:`~fusionrank.service.context.RetrievalCache.compute`: one encoder pass and one
faiss search per modality for the batch). While a batch runs, the new queries of the
moment gather for the next one, so batches grow with the load and a lone query never
waits. Only that thread and the event loop compete for the interpreter: the threads of
the requests do not each hold a share of it, which keeps ``/healthz`` fast under load.

A text that waited longer than ``service.max_queue_ms`` for its batch to start is
refused with 503 (never computed); once computed, the request re-ranks from the cache.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fusionrank.service.config import ServiceConfig
from fusionrank.service.context import RetrievalCache
from fusionrank.service.shedding import Overloaded


@dataclass(eq=False)
class _Queue:
    """The texts waiting for one retrieval cache."""

    cache: RetrievalCache
    waiting: deque[tuple[str, float]] = field(default_factory=deque)
    pending: dict[str, asyncio.Future[None]] = field(default_factory=dict)
    running: bool = False
    task: asyncio.Task[None] | None = None  # held so that it is not collected


class Prefetcher:
    """Queues new query texts and computes them in batches on one thread.

    Args:
        config: ``encode_batch``, ``max_queue_ms``, ``retry_after_s``.
    """

    def __init__(self, config: ServiceConfig) -> None:
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="fusionrank-retrieve")
        self.max_batch = config.encode_batch
        self.max_wait_s = config.max_queue_ms / 1e3
        self.retry_after_s = config.retry_after_s
        self.shed = 0
        self._queues: dict[int, _Queue] = {}

    async def ensure(self, cache: RetrievalCache, text: str) -> None:
        """Return once ``text``'s retrieval is cached in ``cache``.

        Raises:
            Overloaded: If it waited past ``service.max_queue_ms`` for its batch.
        """
        if text in cache:
            return
        queue = self._queues.get(id(cache))
        if queue is None or queue.cache is not cache:  # a new retriever (a reload)
            queue = self._queues[id(cache)] = _Queue(cache)
        future = queue.pending.get(text)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            queue.pending[text] = future
            queue.waiting.append((text, time.perf_counter()))
            if not queue.running:
                queue.running = True
                queue.task = asyncio.create_task(self._drain(queue))
        await asyncio.shield(future)  # a client that leaves does not cancel the others

    async def _drain(self, queue: _Queue) -> None:
        loop = asyncio.get_running_loop()
        try:
            while queue.waiting:
                batch = self._next_batch(queue)
                if not batch:
                    continue
                errors: list[Exception | None]
                try:
                    errors = await loop.run_in_executor(self.pool, queue.cache.compute, batch)
                except Exception as failure:  # the pool itself failed (e.g. shut down)
                    errors = [failure] * len(batch)
                for text, error in zip(batch, errors, strict=True):
                    future = queue.pending.pop(text)
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
        finally:
            queue.running = False

    def _next_batch(self, queue: _Queue) -> list[str]:
        """Up to ``max_batch`` waiting texts; those that waited too long are refused."""
        now = time.perf_counter()
        batch: list[str] = []
        while queue.waiting and len(batch) < self.max_batch:
            text, since = queue.waiting.popleft()
            if now - since <= self.max_wait_s:
                batch.append(text)
                continue
            self.shed += 1
            queue.pending.pop(text).set_exception(
                Overloaded(
                    f"the service is overloaded: this query waited {(now - since) * 1e3:.0f} "
                    f"ms to be encoded (service.max_queue_ms={self.max_wait_s * 1e3:.0f}); "
                    f"retry after {self.retry_after_s} s",
                    self.retry_after_s,
                )
            )
        return batch

    def close(self) -> None:
        """Stop the thread (the app's lifespan ends)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
