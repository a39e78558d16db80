"""Embeddings cached on disk, keyed by content, so that unchanged items are not re-encoded.

A model's store is one ``.npz`` file named by a hash of the model's identity (its
architecture and weights digest), holding ``keys`` (content hashes of the inputs: item
text, or image bytes) and ``vectors``. Stores are rewritten atomically.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.io import atomic_path

logger = logging.getLogger(__name__)


def text_key(text: str) -> str:
    """The cache key of a text: the sha1 hex digest of its UTF-8 bytes."""
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


class EmbeddingCache:
    """Content-keyed embedding stores in one folder.

    Args:
        folder: Where the stores live; created on the first write. None disables caching.
    """

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = None if folder is None else Path(folder)

    def _store(self, model_identity: str) -> Path | None:
        if self.folder is None:
            return None
        name = hashlib.sha1(model_identity.encode(), usedforsecurity=False).hexdigest()[:20]
        return self.folder / f"{name}.npz"

    def _read(self, store: Path) -> tuple[np.ndarray, np.ndarray] | None:
        if not store.is_file():
            return None
        try:
            with np.load(store) as saved:
                return saved["keys"], saved["vectors"]
        except (OSError, ValueError, KeyError):
            logger.warning("embedding cache %s is unreadable; it will be rebuilt", store)
            return None

    def lookup(
        self, model_identity: str, keys: Sequence[str], dim: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cached vectors for ``keys``.

        Returns:
            ``(found, vectors)``: bool (n,) and float32 (n, dim), zeros where not found.
        """
        found = np.zeros(len(keys), dtype=bool)
        vectors = np.zeros((len(keys), dim), dtype=np.float32)
        store = self._store(model_identity)
        saved = None if store is None else self._read(store)
        if saved is None or saved[1].shape[1:] != (dim,):
            return found, vectors
        stored = pd.Index(saved[0])
        if not stored.is_unique:  # written by an older version: keep each key's first row
            keep = ~stored.duplicated()
            saved = (saved[0][keep], saved[1][keep])
            stored = pd.Index(saved[0])
        positions = stored.get_indexer(pd.Index(np.asarray(keys, dtype=str)))
        found = positions >= 0
        vectors[found] = saved[1][positions[found]]
        return found, vectors

    def add(self, model_identity: str, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Add ``vectors`` (float32, shape (n, dim)) under ``keys`` to the model's store."""
        store = self._store(model_identity)
        if store is None or not len(keys):
            return
        saved = self._read(store)
        # Items with the same content share a key: store each key once.
        new_keys, first = np.unique(np.asarray(keys, dtype="U40"), return_index=True)
        vectors = vectors[first]
        if saved is not None and saved[1].shape[1:] == vectors.shape[1:]:
            keep = ~pd.Index(saved[0]).isin(pd.Index(new_keys))
            new_keys = np.concatenate([saved[0][keep].astype("U40"), new_keys])
            vectors = np.concatenate([saved[1][keep], vectors])
        with atomic_path(store) as tmp:
            with tmp.open("wb") as handle:
                np.savez(handle, keys=new_keys, vectors=vectors.astype(np.float32))
        logger.debug("embedding cache %s: %d vectors", store, len(new_keys))
