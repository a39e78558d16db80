"""fusionrank.service: the re-ranker plugin, over HTTP (FastAPI under uvicorn) and in
process (:class:`Reranker`), with ONNX export of neural policies.

The names below are imported on first use, so that loading the run configuration (which
imports :mod:`fusionrank.service.config`) does not pull in FastAPI, torch or onnxruntime.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fusionrank.service.app import create_app
    from fusionrank.service.config import ServiceConfig
    from fusionrank.service.inputs import RequestError
    from fusionrank.service.reranker import Reranker, RerankResult

_EXPORTS = {
    "Reranker": "fusionrank.service.reranker",
    "RerankResult": "fusionrank.service.reranker",
    "RequestError": "fusionrank.service.inputs",
    "ServiceConfig": "fusionrank.service.config",
    "create_app": "fusionrank.service.app",
}

__all__ = ["RequestError", "RerankResult", "Reranker", "ServiceConfig", "create_app"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'fusionrank.service' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
