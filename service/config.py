"""The re-ranker service's configuration: the ``service`` section of a run config."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Engine = Literal["auto", "onnx", "torch"]
"""How a neural policy scores: ``onnx`` (onnxruntime on the exported scorer), ``torch``
(the training module under ``torch.inference_mode``), ``auto`` (onnx, else torch)."""

TextEncoder = Literal["torch", "onnx", "onnx-int8"]
"""How the service encodes query text: ``torch`` (sentence-transformers, as in training),
``onnx`` (the same model exported to ONNX, run by onnxruntime), ``onnx-int8`` (that
export with int8 dynamic quantisation)."""


class ServiceConfig(BaseModel):
    """``fusionrank serve``: where it listens, what it serves, what it refuses."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", min_length=1, description="Interface uvicorn binds.")
    port: int = Field(8765, ge=0, le=65_535, description="TCP port (0: any free port).")
    policy: str | None = Field(
        None,
        description="Policy to serve: a folder name under runs/<name>/policies/ or a path; "
        "None: the only policy there, else pg-joint, else ppo-rerank.",
    )
    engine: Engine = Field("auto", description="Scoring engine of neural policies.")
    text_encoder: TextEncoder = Field(
        "onnx", description="Query text encoder: torch, onnx (checked against torch), onnx-int8."
    )
    threads: int = Field(1, ge=1, le=64, description="Threads of one scoring or encoding call.")
    workers: int = Field(
        2, ge=1, le=256, description="Threads that run re-ranks of queries not yet cached."
    )
    max_candidates: int = Field(
        1000, ge=1, le=100_000, description="Most candidates one /rerank request may carry."
    )
    max_body_bytes: int = Field(
        1_000_000, ge=1024, le=1_000_000_000, description="Largest request body accepted."
    )
    body_timeout_s: float = Field(
        10.0, gt=0, le=3600, description="A request body not received in this time gets 408."
    )
    max_query_chars: int = Field(
        1000, ge=1, le=1_000_000, description="Longest query text accepted (characters)."
    )
    search_k: int = Field(100, ge=1, le=10_000, description="/search candidates re-ranked.")
    default_top_k: int = Field(20, ge=1, le=10_000, description="Results returned by default.")
    query_cache: int = Field(
        4096,
        ge=0,
        le=10_000_000,
        description="Query texts whose features and candidate pool are cached (LRU, about "
        "30 KB each).",
    )
    encode_batch: int = Field(
        16, ge=1, le=4096, description="Most new queries encoded and searched in one batch."
    )
    encode_wait_ms: float = Field(
        1.0, ge=0, le=1000, description="Longest a new query waits for others to batch with."
    )
    max_pending: int = Field(
        16, ge=1, le=100_000, description="Re-ranks queued or running at once; more get 503."
    )
    max_queue_ms: float = Field(
        100.0, gt=0, le=600_000, description="A re-rank that waited longer to start gets 503."
    )
    retry_after_s: int = Field(1, ge=1, le=3600, description="Retry-After of a 503 answer.")
    admin: bool = Field(True, description="Serve /admin/* (loopback and bearer token only).")
    admin_token_env: str = Field(
        "FUSIONRANK_ADMIN_TOKEN",
        min_length=1,
        description="Environment variable holding the admin bearer token.",
    )
    admin_token_file: str | None = Field(
        None, description="File holding the admin bearer token (instead of the variable)."
    )
    reload_dirs: list[str] = Field(
        default_factory=list,
        description="Folders besides runs/<name>/policies/ that /admin/reload may load from.",
    )
    reload_timeout_s: float = Field(
        300.0, gt=0, le=86_400, description="Longest the isolated check of a reload may take."
    )
    exports_dir: str | None = Field(
        None,
        description="Where ONNX exports are cached; None: runs/<name>/service/exports/.",
    )
