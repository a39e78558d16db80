"""The re-ranker service's configuration: the ``service`` section of a run config."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Engine = Literal["auto", "onnx", "torch"]
"""How a neural policy scores: ``onnx`` (onnxruntime on the exported scorer), ``torch``
(the training module under ``torch.inference_mode``), ``auto`` (onnx, else torch)."""


class ServiceConfig(BaseModel):
    """``fusionrank serve``: where it listens, what it serves, what it refuses."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", min_length=1, description="Interface uvicorn binds.")
    port: int = Field(8765, ge=0, le=65_535, description="TCP port (0: any free port).")
    policy: str | None = Field(
        None,
        description="Policy to serve: a folder name under runs/<name>/policies/ or a path; "
        "None: the only policy there, else ppo-rerank.",
    )
    engine: Engine = Field("auto", description="Scoring engine of neural policies.")
    threads: int = Field(1, ge=1, le=64, description="Threads of one scoring call.")
    max_candidates: int = Field(
        1000, ge=1, le=100_000, description="Most candidates one /rerank request may carry."
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1024, le=1_000_000_000, description="Largest request body accepted."
    )
    search_k: int = Field(100, ge=1, le=10_000, description="/search candidates re-ranked.")
    default_top_k: int = Field(20, ge=1, le=10_000, description="Results returned by default.")
    query_cache: int = Field(
        4096, ge=0, le=10_000_000, description="Query texts whose features are cached (LRU)."
    )
    admin: bool = Field(True, description="Serve POST /admin/reload (loopback only).")
