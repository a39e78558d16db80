"""FAISS indexes over one modality's item vectors, chosen by an index-factory string.

Vectors are L2-normalised and the metric is the inner product, so scores are cosines.
``Flat`` is exact; ``HNSW32``, ``IVF<n>,Flat`` and ``IVF<n>,PQ<m>x4fs,RFlat`` (fast-scan
product quantization whose hits are re-scored exactly) and any other factory string are
approximate, tuned at search time by ``efSearch``, ``nprobe`` and the refinement's
``k_factor``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from fusionrank.io import atomic_path
from fusionrank.retrieval.config import IndexConfig

logger = logging.getLogger(__name__)

SEARCH_PARAMETERS = {
    "nprobe": "nprobe",
    "efSearch": "ef_search",
    "k_factor_rf": "refine_k_factor",
}
"""faiss parameter name -> IndexConfig field."""


def quiet_faiss_loader() -> None:
    """Hide faiss's INFO notes about which CPU build it loads (not the user's concern)."""
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)


quiet_faiss_loader()


def set_threads(n: int) -> None:
    """Use ``n`` threads in faiss (OpenMP) and torch."""
    import faiss
    import torch

    faiss.omp_set_num_threads(n)
    torch.set_num_threads(n)


def make_index(dim: int, config: IndexConfig, field: str) -> Any:
    """An empty faiss index with the inner-product metric.

    Args:
        dim: Vector size.
        config: Its factory string and search parameters.
        field: The config field, for errors (e.g. ``retrieval.text_index``).

    Raises:
        ValueError: If faiss cannot parse the factory string.
    """
    import faiss

    try:
        index = faiss.index_factory(dim, config.factory, faiss.METRIC_INNER_PRODUCT)
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[-1].split("Error: ")[-1][:200]
        raise ValueError(
            f"{field}.factory: faiss cannot build index {config.factory!r} ({reason}); "
            "use a faiss index-factory string such as 'Flat', 'HNSW32' or 'IVF256,Flat'"
        ) from None
    apply_search_parameters(index, config)
    return index


def apply_search_parameters(index: Any, config: IndexConfig) -> None:
    """Set ``nprobe`` / ``efSearch`` / the refinement ``k_factor`` where the index has them."""
    import faiss

    space = faiss.ParameterSpace()
    for name, attribute in SEARCH_PARAMETERS.items():
        try:
            space.set_index_parameter(index, name, getattr(config, attribute))
        except RuntimeError:
            continue  # the index type has no such parameter (e.g. nprobe on HNSW)


def build_index(vectors: np.ndarray, config: IndexConfig, field: str) -> Any:
    """Train (when the type needs it) and fill an index.

    Args:
        vectors: float32, shape (n_items, dim), L2-normalised.
        config: Factory string and search parameters.
        field: The config field, for errors.

    Raises:
        ValueError: If the factory string is invalid or the catalog is too small to
            train that index type (e.g. fewer items than IVF cells).
    """
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    index = make_index(vectors.shape[1], config, field)
    if not index.is_trained:
        try:
            index.train(vectors)
        except RuntimeError as error:
            reason = str(error).strip().splitlines()[-1].split("Error: ")[-1][:200]
            raise ValueError(
                f"{field}.factory: index {config.factory!r} cannot be trained on "
                f"{len(vectors)} items ({reason}); use fewer IVF cells (about "
                f"sqrt(n_items)) or 'Flat' for small catalogs"
            ) from None
    index.add(vectors)
    return index


def search(index: Any, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best items per query.

    Args:
        index: A filled faiss index.
        queries: float32, shape (B, dim).
        k: Results per query (at most the index size).

    Returns:
        ``(D, I)``: float32 scores and int64 item indices, shape (B, k), best first; an
        approximate index that finds fewer than ``k`` gives ``I = -1`` and
        ``D = -inf`` for the rest.
    """
    k = min(k, index.ntotal)
    scores, items = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    scores = np.where(items >= 0, scores, -np.inf).astype(np.float32)
    return scores, items.astype(np.int64)


def save_index(index: Any, path: Path) -> None:
    """Write an index atomically."""
    import faiss

    with atomic_path(path) as tmp:
        faiss.write_index(index, str(tmp))


def load_index(path: Path, config: IndexConfig) -> Any:
    """Read an index and set its search parameters from ``config``."""
    import faiss

    if not path.is_file():
        raise ValueError(f"index file {path} is missing; run `fusionrank index build`")
    index = faiss.read_index(str(path))
    apply_search_parameters(index, config)
    return index
