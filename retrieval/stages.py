"""The retrieval stages of a run: train the image model, then encode and index the
catalog. Each reads the run's recorded catalog and writes under ``run.retrieval``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fusionrank.retrieval.config import RetrievalConfig
from fusionrank.runs import RunFolder
from fusionrank.types import Catalog

if TYPE_CHECKING:
    from fusionrank.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)


def load_run_catalog(run: RunFolder, check_images: bool = True) -> Catalog:
    """The run's catalog (its recorded input, see :meth:`RunFolder.inputs`)."""
    from fusionrank.datasets import load_catalog

    return load_catalog(run.inputs(need=("catalog",)).catalog, check_images=check_images)


@dataclass(frozen=True)
class ClipResult:
    """The CLIP stage's outcome.

    Args:
        checkpoint: The trained checkpoint, or None when the stage was skipped.
        skipped: Why it was skipped, or None.
        steps: Training steps.
        seconds: Training wall time.
        losses: ``[step, loss]`` pairs logged during training.
    """

    checkpoint: Path | None
    skipped: str | None = None
    steps: int = 0
    seconds: float = 0.0
    losses: tuple[tuple[int, float], ...] = ()

    def summary(self) -> dict[str, Any]:
        if self.checkpoint is None:
            return {"skipped": self.skipped}
        first, last = self.losses[0][1], self.losses[-1][1]
        return {
            "checkpoint": str(self.checkpoint),
            "steps": self.steps,
            "seconds": self.seconds,
            "loss (first, last)": [first, last],
        }


def clip_skip_reason(config: RetrievalConfig, catalog: Catalog) -> str | None:
    """Why the run needs no CLIP training, or None when it does."""
    if not config.image:
        return "retrieval.image is false"
    if config.clip.pretrained is not None:
        return f"using your checkpoint {config.clip.pretrained}"
    if not catalog.has_images:
        return "the catalog has no image_path column: text and lexical retrieval only"
    return None


def train_run_clip(run: RunFolder, config: RetrievalConfig, seed: int) -> ClipResult:
    """Train the run's open_clip model on its catalog's (image, title) pairs, unless the
    run needs none (:func:`clip_skip_reason`)."""
    from fusionrank.retrieval.clip_train import train_clip

    catalog = load_run_catalog(run, check_images=False)
    reason = clip_skip_reason(config, catalog)
    if reason is not None:
        logger.info("clip: skipped: %s", reason)
        return ClipResult(None, reason)
    summary = train_clip(
        load_run_catalog(run), config.clip, seed, run.retrieval.clip, config.threads
    )
    losses = tuple((int(s), float(v)) for s, v in summary["losses"])
    return ClipResult(run.retrieval.clip_model, None, summary["steps"], summary["seconds"], losses)


def clip_outputs(run: RunFolder, config: RetrievalConfig, catalog: Catalog) -> list[Path]:
    """The CLIP stage's outputs: the checkpoint, unless the run needs none."""
    return [] if clip_skip_reason(config, catalog) else [run.retrieval.clip_model]


@dataclass(frozen=True)
class IndexResult:
    """The index stage's outcome: the saved retriever and what it indexes.

    Args:
        folder: Where the indexes are.
        n_items: Items indexed.
        modalities: The searched modalities, in weight-axis order.
        text_index: The text index's faiss factory string.
        image_index: The image index's factory string, or None without images.
        fusion: The fusion rule.
    """

    folder: Path
    n_items: int
    modalities: tuple[str, ...]
    text_index: str
    image_index: str | None
    fusion: str

    def summary(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "items": self.n_items,
            "modalities": list(self.modalities),
            "text index": self.text_index,
            "image index": self.image_index or "none (no images)",
            "fusion": self.fusion,
        }


def build_run_index(run: RunFolder, config: RetrievalConfig) -> IndexResult:
    """Encode the run's catalog and save one index per modality under ``run.retrieval``."""
    from fusionrank.retrieval.retriever import Retriever

    retriever = Retriever.build(load_run_catalog(run), config, run.retrieval.path)
    target = retriever.save(run.retrieval.path)
    has_image = "image" in retriever.modality_names
    return IndexResult(
        folder=target,
        n_items=retriever.n_items,
        modalities=tuple(retriever.modality_names),
        text_index=config.text_index.factory,
        image_index=config.image_index.factory if has_image else None,
        fusion=config.fusion,
    )


def load_run_retriever(run: RunFolder, config: RetrievalConfig | None = None) -> Retriever:
    """The run's saved :class:`~fusionrank.retrieval.retriever.Retriever`.

    Raises:
        ValueError: If the run has no index; the message names the command that builds it.
    """
    from fusionrank.retrieval.retriever import Retriever

    run.require("the retriever", run.retrieval.path, "index build")
    return Retriever.load(run.retrieval.path, config)
