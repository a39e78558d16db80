"""Dynamic micro-batching of work keyed by query text, a thread-safe LRU, and the
service's query-encoder memo.

:class:`MicroBatcher` gathers the keys that concurrent threads ask for and computes them
in one call of a batched function (one encoder pass, one faiss search of the whole
batch). There is no background thread: the first caller that finds no batch running
becomes the leader, waits up to ``max_wait_s`` for others to join (only when ``busy()``
says more calls are in flight than keys are queued: a lone caller never waits), computes
batches of up to ``max_batch`` keys until its own key is done, then hands over to a
waiting caller. A key asked for twice while pending is computed once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

import numpy as np

logger = logging.getLogger(__name__)

T = TypeVar("T")


class MicroBatcher(Generic[T]):
    """Compute ``run(keys) -> results`` over batches of keys asked for by many threads.

    Args:
        run: Computes the results of a batch of distinct keys, in order.
        max_batch: Most keys per call of ``run``.
        max_wait_s: Longest the leader waits for more keys before it computes.
        busy: Calls in flight, the leader's included (None: always wait for others).
    """

    def __init__(
        self,
        run: Callable[[list[str]], Sequence[T]],
        max_batch: int,
        max_wait_s: float,
        busy: Callable[[], int] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._run = run
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._busy = busy
        self._cond = threading.Condition()
        self._pending: dict[str, Future[T]] = {}
        self._queue: list[str] = []
        self._leading = False
        self.batches = 0
        self.keys = 0

    def __call__(self, key: str) -> T:
        """The result for ``key`` (blocks until its batch was computed)."""
        with self._cond:
            future = self._pending.get(key)
            if future is None:
                future = Future()
                self._pending[key] = future
                self._queue.append(key)
            while not future.done() and self._leading:
                self._cond.wait()
            if future.done():
                return future.result()
            self._leading = True
        try:
            self._lead(future)
        finally:
            with self._cond:
                self._leading = False
                self._cond.notify_all()
        return future.result()

    def _lead(self, mine: Future[T]) -> None:
        """Compute batches until ``mine`` is done."""
        while not mine.done():
            with self._cond:
                queued = len(self._queue)
            more_coming = self._busy is None or self._busy() > queued
            if queued < self.max_batch and more_coming and self.max_wait_s > 0:
                time.sleep(self.max_wait_s)
            with self._cond:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
            if batch:
                self._compute(batch)

    def _compute(self, batch: list[str]) -> None:
        try:
            results: Sequence[T | BaseException] = list(self._run(batch))
            if len(results) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} gave {len(results)} results")
        except Exception as error:
            if len(batch) == 1:
                results = [error]
            else:  # one bad key must not fail the others: compute each alone
                logger.warning("a batch of %d failed (%s); computing each alone", len(batch), error)
                results = [self._alone(key) for key in batch]
        self.batches += 1
        self.keys += len(batch)
        with self._cond:
            for key, result in zip(batch, results, strict=True):
                future = self._pending.pop(key)
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            self._cond.notify_all()

    def _alone(self, key: str) -> T | BaseException:
        try:
            return self._run([key])[0]
        except Exception as error:
            return error


class LockedLRU(Generic[T]):
    """A least-recently-used map from text to value that many threads share.

    Args:
        size: Most entries kept (0: keep none).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> T | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: T) -> None:
        if self.size == 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


class CachedEncoder:
    """Query texts -> vectors through a :class:`LockedLRU`: what the service's retriever
    calls instead of an encoder's own memo, which threads must not share.

    Args:
        encode: texts -> float32 (n, dim), L2-normalised.
        size: Query encodings kept.
    """

    def __init__(self, encode: Callable[[list[str]], np.ndarray], size: int) -> None:
        self._encode = encode
        self._memo: LockedLRU[np.ndarray] = LockedLRU(size)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """float32 (len(texts), dim)."""
        if not texts:
            raise ValueError("no query texts were given")
        found = {t: v for t in dict.fromkeys(texts) if (v := self._memo.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            for text, vector in zip(missing, self._encode(missing), strict=True):
                found[text] = vector
                self._memo.put(text, vector)
        return np.stack([found[t] for t in texts])
