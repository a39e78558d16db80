"""One root seed, split into independent named random streams.

The streams are spawned from ``numpy.random.SeedSequence(seed)`` in the fixed order of
:data:`STREAMS`; appending a new name never changes the streams before it.
"""

from __future__ import annotations

import numpy as np

STREAMS: tuple[str, ...] = (
    "world",
    "logs",
    "clip",
    "simulator",
    "env",
    "agent",
    "evaluation",
    "service",
    "ensemble",
)


def seed_sequence(seed: int, stream: str) -> np.random.SeedSequence:
    """The SeedSequence of one named stream.

    Raises:
        ValueError: If ``stream`` is not one of :data:`STREAMS`.
    """
    if stream not in STREAMS:
        raise ValueError(f"unknown random stream {stream!r}; use one of {', '.join(STREAMS)}")
    return np.random.SeedSequence(seed).spawn(len(STREAMS))[STREAMS.index(stream)]


def rng(seed: int, stream: str) -> np.random.Generator:
    """A fresh generator for one named stream of the root ``seed``."""
    return np.random.default_rng(seed_sequence(seed, stream))


def int_seed(seed: int, stream: str) -> int:
    """A 31-bit integer seed for libraries that take an int (torch, stable-baselines3)."""
    return int(seed_sequence(seed, stream).generate_state(1, dtype=np.uint32)[0] >> 1)
