"""Photo queries: a shopper's photo searches the image index, alone or with text.

The run's CLIP image tower encodes the photo (exactly as it encoded the catalog images),
the image modality's FAISS index returns its nearest products, and each score is
standardised by the photo's score moments over the whole catalog (as the retriever's
weighted fusion does). A photo with text ("this but in blue") fuses two score lists over
the union of their candidates:

    score = w * z_photo + (1 - w) * fused_text,

where ``z_photo`` is the photo's standardised image score and ``fused_text`` the
retriever's default-weight fused score of the text (exact for any item through
``Retriever.pair_features``). Photo quality signals (:func:`photo_quality`) and the
search statistics become query features, so a fusion policy can tell a sharp photo from
a dark, blurred one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from fusionrank.retrieval.photo_input import (
    as_image,
    photo_quality,
    suppress_background,
)
from fusionrank.types import PAD, Query

if TYPE_CHECKING:
    from PIL import Image

    from fusionrank.retrieval.clip import ClipModel
    from fusionrank.retrieval.modality import DenseModality
    from fusionrank.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

PHOTO_FEATURE_NAMES: tuple[str, ...] = (
    "has_photo",
    "photo_sharpness",
    "photo_contrast",
    "photo_brightness",
    "photo_embedding_norm",
    "photo_top_score",
    "photo_top_z",
    "photo_z_gap",
)
"""Query features of a photo (all 0 for a query without one)."""


class PhotoEncoder:
    """The CLIP image tower applied to photos."""

    def __init__(self, clip: ClipModel) -> None:
        self.clip = clip

    def encode(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """L2-normalised embeddings, float32 (n, dim), and their norms before
        normalisation, float32 (n,)."""
        import torch

        pixels = torch.stack([self.clip.preprocess(image) for image in images])
        with torch.inference_mode():
            raw = self.clip.model.encode_image(pixels, normalize=False).float().numpy()
        norms = np.linalg.norm(raw, axis=1)
        return (raw / np.maximum(norms[:, None], 1e-12)).astype(np.float32), norms.astype(
            np.float32
        )


def run_clip(retriever: Retriever) -> ClipModel:
    """The CLIP model that encoded the retriever's image index (from its manifest).

    Raises:
        ValueError: If the retriever has no image modality or the checkpoint changed.
    """
    from fusionrank.retrieval.clip import load_clip

    record = retriever.manifest.get("clip")
    if "image" not in retriever.modality_names or not record:
        raise ValueError("photo queries need the image modality; build the index with images")
    clip = load_clip(record["model"], record["checkpoint"], record["random_seed"] or 0)
    if clip.identity != record["identity"]:
        raise ValueError("the CLIP checkpoint changed since the index was built; rebuild it")
    return clip


@dataclass(frozen=True, eq=False)
class PhotoResults:
    """Ranked products for B photo queries.

    Args:
        item_index: int64, shape (B, k): best first, ``PAD`` past the last.
        scores: float32, shape (B, k): the fused score (``photo_z`` for a photo alone).
        photo_z: float32, shape (B, k): standardised image score of the photo.
        text_score: float32, shape (B, k): the text's fused score; NaN without text.
        features: float32, shape (B, len(PHOTO_FEATURE_NAMES)): query features.
    """

    item_index: np.ndarray
    scores: np.ndarray
    photo_z: np.ndarray
    text_score: np.ndarray
    features: np.ndarray
    feature_names: tuple[str, ...] = PHOTO_FEATURE_NAMES


class PhotoSearch:
    """Photo and photo + text queries over an image index.

    Build one over a retriever with :meth:`of`.

    Args:
        image: The image modality (item vectors and their FAISS index).
        clip: The CLIP model that encoded those vectors.
        text: The retriever whose fused text score joins photo + text queries; None for
            photos alone.
        photo_weight: ``w`` of the photo in photo + text fusion, in [0, 1].
        stats_k: Rank of the z gap feature.
        depth: Candidates taken from each side before fusion.
        background: ``suppress`` (:func:`suppress_background` before encoding) or
            ``keep`` (encode the photo as it is).
    """

    def __init__(
        self,
        image: DenseModality,
        clip: ClipModel,
        text: Retriever | None = None,
        photo_weight: float = 0.5,
        stats_k: int = 10,
        depth: int = 100,
        background: Literal["suppress", "keep"] = "suppress",
    ) -> None:
        if background not in ("suppress", "keep"):
            raise ValueError(f"background={background!r} must be 'suppress' or 'keep'")
        if not 0.0 <= photo_weight <= 1.0:
            raise ValueError(f"photo_weight={photo_weight} must be in [0, 1]")
        if clip.dim != image.vectors.shape[1]:
            raise ValueError(
                f"CLIP embeds in {clip.dim} dimensions, the image index holds "
                f"{image.vectors.shape[1]}; use the model that built the index"
            )
        self.modality = image
        self.encoder = PhotoEncoder(clip)
        self.retriever = text
        self.photo_weight = photo_weight
        self.stats_k = stats_k
        self.depth = depth
        self.background = background

    @classmethod
    def of(
        cls,
        retriever: Retriever,
        clip: ClipModel | None = None,
        photo_weight: float = 0.5,
        background: Literal["suppress", "keep"] = "suppress",
    ) -> PhotoSearch:
        """Photo search over a retriever's image index, fusing with its text side.

        Raises:
            ValueError: If the retriever has no image modality.
        """
        if "image" not in retriever.dense:
            raise ValueError("photo queries need the image modality; build the index with images")
        return cls(
            retriever.dense["image"],
            clip or run_clip(retriever),
            retriever,
            photo_weight,
            retriever.config.stats_k,
            retriever.config.k_per_modality,
            background,
        )

    def search(
        self, photos: Sequence[Any], k: int = 10, texts: Sequence[str | None] | None = None
    ) -> PhotoResults:
        """Rank products for photos, each optionally with a text.

        Args:
            photos: B PIL images or uint8 arrays.
            k: Results per query.
            texts: B texts (None for a photo alone), or None for photos alone.
        """
        if not len(photos):
            raise ValueError("no photos were given; pass at least one")
        if texts is not None and len(texts) != len(photos):
            raise ValueError(f"texts has {len(texts)} entries for {len(photos)} photos")
        images = [as_image(p) for p in photos]
        shown = (
            [suppress_background(i) for i in images] if self.background == "suppress" else images
        )
        vectors, norms = self.encoder.encode(shown)
        depth = max(k, self.stats_k, self.depth)
        hits = self.modality.search(vectors, depth)
        z_hits = (hits.scores - hits.mean[:, None]) / np.maximum(hits.std[:, None], 1e-9)
        features = np.concatenate(
            [
                np.ones((len(images), 1), np.float32),
                photo_quality(images),
                norms[:, None],
                hits.scores[:, :1],
                z_hits[:, :1],
                (z_hits[:, 0] - z_hits[:, self.stats_k - 1])[:, None],
            ],
            axis=1,
        ).astype(np.float32)
        candidates = hits.items
        text_rows = [i for i, t in enumerate(texts or []) if t]
        if text_rows and self.retriever is None:
            raise ValueError("photo + text queries need a retriever; build with PhotoSearch.of")
        if text_rows:
            candidates = self._with_text_candidates(candidates, texts or [], text_rows, depth)
        return self._rank(vectors, hits, candidates, texts, text_rows, k, features)

    def _with_text_candidates(
        self, candidates: np.ndarray, texts: Sequence[str | None], rows: list[int], depth: int
    ) -> np.ndarray:
        """Union each row's photo hits with its text's fused top-``depth``."""
        assert self.retriever is not None
        batch = self.retriever.search(
            [Query(f"photo-text-{i}", str(texts[i])) for i in rows], depth
        )
        extra = np.full((len(candidates), batch.k), PAD, dtype=np.int64)
        extra[rows] = np.where(batch.mask, batch.item_index, PAD)
        merged = np.concatenate([candidates, extra], axis=1)
        out = np.full_like(merged, PAD)
        for row, items in enumerate(merged):
            unique = list(dict.fromkeys(int(i) for i in items if i >= 0))
            out[row, : len(unique)] = unique
        return out

    def _rank(
        self,
        vectors: np.ndarray,
        hits: Any,
        candidates: np.ndarray,
        texts: Sequence[str | None] | None,
        text_rows: list[int],
        k: int,
        features: np.ndarray,
    ) -> PhotoResults:
        valid = candidates >= 0
        safe = np.where(valid, candidates, 0)
        raw = np.einsum("bd,bkd->bk", vectors, self.modality.vectors[safe])
        photo_z = (raw - hits.mean[:, None]) / np.maximum(hits.std[:, None], 1e-9)
        text_score = np.full(candidates.shape, np.nan)
        fused = photo_z.copy()
        if text_rows and self.retriever is not None:
            query_texts = [str((texts or [])[i]) for i in text_rows]
            pairs = self.retriever.pair_features(query_texts, candidates[text_rows])
            text_score[text_rows] = pairs[..., -1]
            w = self.photo_weight
            fused[text_rows] = w * photo_z[text_rows] + (1 - w) * text_score[text_rows]
        fused = np.where(valid, fused, -np.inf)
        order = np.argsort(-fused, axis=1, kind="stable")[:, :k]

        def take(values: np.ndarray, fill: float) -> np.ndarray:
            picked = np.take_along_axis(values, order, axis=1)
            return np.where(np.take_along_axis(valid, order, axis=1), picked, fill)

        return PhotoResults(
            item_index=take(candidates, PAD).astype(np.int64),
            scores=take(fused, np.nan).astype(np.float32),
            photo_z=take(photo_z, np.nan).astype(np.float32),
            text_score=take(text_score, np.nan).astype(np.float32),
            features=features,
        )


def no_photo_features(n: int) -> np.ndarray:
    """The photo features of ``n`` queries without a photo: zeros, float32 (n, F)."""
    return np.zeros((n, len(PHOTO_FEATURE_NAMES)), dtype=np.float32)
