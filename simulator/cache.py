"""A growing table of per-pair simulator parameters, keyed by (query, item).

Queries repeat, so the simulator computes a pair's parameters (features, feature models,
blends) once and afterwards finds them with one hash lookup per batch
(``pandas.Index.get_indexer`` on int64 keys, several times faster than a binary search).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

Compute = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
"""``compute(query, item) -> {name: float64 (n,)}`` for n new pairs (int64 (n,) each)."""


class PairCache:
    """Int64 keys ``query * n_items + item`` and a float64 column per parameter.

    Args:
        n_items: Size of the item vocabulary.
        names: The parameters kept per pair.
    """

    def __init__(self, n_items: int, names: tuple[str, ...]) -> None:
        self.n_items = int(n_items)
        self.names = names
        self.keys = np.empty(0, dtype=np.int64)
        self.values = {name: np.empty(0) for name in names}
        self._index = pd.Index(self.keys)

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def insert(self, keys: np.ndarray, values: dict[str, np.ndarray]) -> None:
        """Add pairs not yet in the table (int64 keys (n,), unique, with their values)."""
        self.keys = np.concatenate([self.keys, keys.astype(np.int64)])
        for name in self.names:
            self.values[name] = np.concatenate([self.values[name], values[name]])
        self._index = pd.Index(self.keys)

    def rows(self, query: np.ndarray, item_index: np.ndarray, compute: Compute) -> np.ndarray:
        """Rows of the pairs, int64 (B, L), -1 at ``PAD``; missing pairs are computed.

        Args:
            query: int64, shape (B,): query indices (>= 0).
            item_index: int64, shape (B, L): item indices, ``PAD`` allowed.
            compute: Makes the values of new pairs.

        Raises:
            ValueError: If an item index is outside the item vocabulary.
        """
        shown = item_index >= 0
        if np.any(item_index >= self.n_items):
            raise ValueError(
                f"item_index holds {int(item_index.max())}, but the simulator knows"
                f" {self.n_items} items; pass catalog item indices"
            )
        keys = np.where(shown, query[:, None] * self.n_items + item_index, -1)
        at = self._find(keys)
        missing = shown & (at < 0)
        if missing.any():
            new = np.unique(keys[missing])
            self.insert(new, compute(new // self.n_items, new % self.n_items))
            at = self._find(keys)
        return at

    def _find(self, keys: np.ndarray) -> np.ndarray:
        at = self._index.get_indexer(pd.Index(keys.ravel())).reshape(keys.shape)
        return np.where(keys >= 0, at, -1).astype(np.int64)
