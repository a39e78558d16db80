"""Micro-batching across threads, the thread-safe LRU and the query-encoder memo."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from fusionrank.service.batching import CachedEncoder, LockedLRU, MicroBatcher


class Recorder:
    """A batched function that records its batches and takes ``seconds`` per call."""

    def __init__(self, seconds: float = 0.02, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.seconds = seconds
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def __call__(self, keys: list[str]) -> list[str]:
        with self.lock:
            self.batches.append(list(keys))
        time.sleep(self.seconds)
        if self.fail_on in keys:
            raise ValueError(f"cannot compute {self.fail_on!r}")
        return [key.upper() for key in keys]


def _call_all(batcher: MicroBatcher[str], keys: list[str]) -> list[object]:
    def one(key: str) -> object:
        try:
            return batcher(key)
        except ValueError as error:
            return error

    with ThreadPoolExecutor(len(keys)) as pool:
        return list(pool.map(one, keys))


def test_concurrent_keys_are_computed_in_few_batches() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8, max_wait_s=0.005)
    keys = [f"q{i}" for i in range(24)]
    assert _call_all(batcher, keys) == [k.upper() for k in keys]
    assert sorted(k for b in run.batches for k in b) == sorted(keys)  # each computed once
    assert max(len(b) for b in run.batches) <= 8
    # 24 keys at 20 ms a call would take 24 calls one by one; batching needs far fewer.
    assert len(run.batches) <= 12, [len(b) for b in run.batches]


def test_a_key_asked_for_twice_is_computed_once() -> None:
    run = Recorder(seconds=0.05)
    batcher = MicroBatcher(run, max_batch=4, max_wait_s=0.01)
    assert _call_all(batcher, ["same"] * 6 + ["other"]) == ["SAME"] * 6 + ["OTHER"]
    assert sum(b.count("same") for b in run.batches) == 1


def test_one_bad_key_fails_alone() -> None:
    run = Recorder(seconds=0.01, fail_on="bad")
    batcher = MicroBatcher(run, max_batch=16, max_wait_s=0.02)
    out = _call_all(batcher, ["a", "bad", "b", "c"])
    assert out[0] == "A" and out[2:] == ["B", "C"]
    assert isinstance(out[1], ValueError) and "cannot compute 'bad'" in str(out[1])


def test_a_lone_caller_waits_at_most_max_wait() -> None:
    batcher = MicroBatcher(Recorder(seconds=0.0), max_batch=8, max_wait_s=0.01)
    start = time.perf_counter()
    assert batcher("x") == "X"
    assert time.perf_counter() - start < 0.5
    with pytest.raises(ValueError, match="max_batch must be >= 1"):
        MicroBatcher(Recorder(), max_batch=0, max_wait_s=0.0)


def test_locked_lru_keeps_the_most_recent() -> None:
    lru: LockedLRU[int] = LockedLRU(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1  # "a" is now the most recent
    lru.put("c", 3)
    assert "b" not in lru and lru.get("a") == 1 and lru.get("c") == 3 and len(lru) == 2
    none: LockedLRU[int] = LockedLRU(0)
    none.put("a", 1)
    assert none.get("a") is None


def test_cached_encoder_encodes_only_new_texts() -> None:
    seen: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        seen.append(list(texts))
        return np.array([[len(t), 1.0] for t in texts], dtype=np.float32)

    encoder = CachedEncoder(encode, size=10)
    first = encoder(["ab", "abc", "ab"])
    assert first.shape == (3, 2) and first[0, 0] == 2 and first[1, 0] == 3
    encoder(["abc", "abcd"])
    assert seen == [["ab", "abc"], ["abcd"]]
    with pytest.raises(ValueError, match="no query texts"):
        encoder([])


def test_a_lone_caller_does_not_wait_when_no_one_else_is_in_flight() -> None:
    waits = MicroBatcher(Recorder(seconds=0.0), max_batch=8, max_wait_s=0.3)
    start = time.perf_counter()
    waits("x")
    assert time.perf_counter() - start >= 0.3  # busy=None: it waits for others
    alone = MicroBatcher(Recorder(seconds=0.0), max_batch=8, max_wait_s=0.3, busy=lambda: 1)
    start = time.perf_counter()
    assert alone("x") == "X"
    assert time.perf_counter() - start < 0.2  # nobody else in flight: no wait
