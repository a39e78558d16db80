"""fusionrank.retrieval: multimodal first-stage retrieval.

Text (sentence-transformers), image (an open_clip model the project trains, or the
user's own checkpoint) and lexical (BM25) modalities, one FAISS index per dense modality,
candidates pooled across modalities and fused with per-query weights; retrieval metrics.

The names below are imported on first use, so that loading the run configuration (which
imports :mod:`fusionrank.retrieval.config`) does not pull in torch, faiss or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fusionrank.retrieval.config import RetrievalConfig
    from fusionrank.retrieval.pool import CandidatePool, fuse
    from fusionrank.retrieval.retriever import Retriever

_EXPORTS = {
    "CandidatePool": "fusionrank.retrieval.pool",
    "RetrievalConfig": "fusionrank.retrieval.config",
    "Retriever": "fusionrank.retrieval.retriever",
    "fuse": "fusionrank.retrieval.pool",
}

__all__ = ["CandidatePool", "RetrievalConfig", "Retriever", "fuse"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fusionrank.retrieval' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
