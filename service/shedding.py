"""Load shedding: re-ranks that would wait too long are refused with 503 at once.

At most ``service.max_pending`` re-ranks of queries not yet cached may be in progress
(waiting for their query's batch, :mod:`fusionrank.service.prefetch`, or for one of the
``service.workers`` threads that run what cannot run on the event loop); one more is
refused before it queues, and one that waited longer than ``service.max_queue_ms`` for
its batch or a thread is refused when it would start. Both answer 503 with
``Retry-After``, so an overloaded service answers quickly instead of late, and
``/healthz`` and ``/metrics`` (on the event loop, never in a pool) stay fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TypeVar

from fusionrank.service.config import ServiceConfig

T = TypeVar("T")


class Overloaded(Exception):
    """A re-rank refused for load.

    Args:
        message: Why, with the limit that refused it.
        retry_after_s: Seconds the client should wait.
    """

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s


class Admission:
    """The re-rank thread pool with its admission limits.

    Args:
        config: ``workers``, ``max_pending``, ``max_queue_ms``, ``retry_after_s``.
    """

    def __init__(self, config: ServiceConfig) -> None:
        self.max_pending = config.max_pending
        self.max_queue_s = config.max_queue_ms / 1e3
        self.retry_after_s = config.retry_after_s
        self.pool = ThreadPoolExecutor(config.workers, thread_name_prefix="fusionrank-rerank")
        self.pending = 0  # changed on the event loop only
        self.shed = 0

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Count a slow re-rank as pending while it runs, or refuse it with
        :class:`Overloaded` when ``service.max_pending`` are."""
        if self.pending >= self.max_pending:
            self.shed += 1
            raise Overloaded(
                f"the service is overloaded: {self.pending} re-ranks are pending "
                f"(service.max_pending={self.max_pending}); retry after "
                f"{self.retry_after_s} s",
                self.retry_after_s,
            )
        self.pending += 1
        try:
            yield
        finally:
            self.pending -= 1

    async def run(self, call: Callable[[], T]) -> T:
        """``call()`` in the pool, or :class:`Overloaded` if it waited too long for a
        thread (call it inside :meth:`admit`)."""
        queued = time.perf_counter()

        def timed() -> T:
            waited = time.perf_counter() - queued
            if waited > self.max_queue_s:
                self.shed += 1
                raise Overloaded(
                    f"the service is overloaded: this re-rank waited {waited * 1e3:.0f} ms "
                    f"for a worker (service.max_queue_ms={self.max_queue_s * 1e3:.0f}); "
                    f"retry after {self.retry_after_s} s",
                    self.retry_after_s,
                )
            return call()

        return await asyncio.get_running_loop().run_in_executor(self.pool, timed)

    def close(self) -> None:
        """Stop the pool (the app's lifespan ends)."""
        self.pool.shutdown(wait=False, cancel_futures=True)
