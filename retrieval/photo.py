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

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from fusionrank.retrieval.audio import MediaTooLarge
from fusionrank.types import PAD, Query

if TYPE_CHECKING:
    from PIL import Image

    from fusionrank.retrieval.clip import ClipModel
    from fusionrank.retrieval.modality import DenseModality
    from fusionrank.retrieval.retriever import Retriever

logger = logging.getLogger(__name__)

MIN_SIDE = 8
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


@dataclass(frozen=True)
class PhotoLimits:
    """What a photo query may be: encoded bytes and decoded pixels."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 25_000_000


def as_image(photo: Any, limits: PhotoLimits = PhotoLimits()) -> Image.Image:
    """An RGB PIL image from a PIL image or a uint8 array (H, W), (H, W, 3) or (H, W, 4).

    Raises:
        ValueError: For another type or dtype, a side below 8 pixels, or too many pixels.
    """
    from PIL import Image

    if isinstance(photo, Image.Image):
        image = photo
    else:
        array = np.asarray(photo) if isinstance(photo, np.ndarray | list) else None
        if array is None or array.dtype != np.uint8:
            kind = type(photo).__name__ if array is None else f"dtype {array.dtype}"
            raise ValueError(
                f"photo must be a PIL image or a uint8 array (H, W[, 3 or 4]), got {kind}"
            )
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
            raise ValueError(
                f"photo array must have shape (H, W), (H, W, 3) or (H, W, 4), got {array.shape}"
            )
        image = Image.fromarray(array)
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise ValueError(f"photo is {width}x{height} pixels; each side needs at least {MIN_SIDE}")
    if width * height > limits.max_pixels:
        raise MediaTooLarge(
            f"photo has {width * height} pixels; at most {limits.max_pixels} are accepted"
        )
    return image.convert("RGB")


def decode_image(data: bytes, limits: PhotoLimits = PhotoLimits()) -> Image.Image:
    """Decode a PNG, JPEG or WebP file held in memory, fully, into an RGB image.

    Raises:
        MediaTooLarge: For too many bytes or pixels (a decompression bomb).
        ValueError: For no bytes, another format, or a truncated or corrupt file.
    """
    from PIL import Image, UnidentifiedImageError

    if not isinstance(data, bytes | bytearray | memoryview) or not len(data):
        raise ValueError("image is empty: the file holds no bytes")
    if len(data) > limits.max_bytes:
        raise MediaTooLarge(
            f"image file is {len(data)} bytes; at most {limits.max_bytes} are accepted"
        )
    try:
        with Image.open(io.BytesIO(bytes(data)), formats=("PNG", "JPEG", "WEBP")) as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                raise MediaTooLarge(
                    f"image declares {width}x{height} = {width * height} pixels; at most "
                    f"{limits.max_pixels} are accepted"
                )
            image.load()
            return as_image(image, limits)
    except UnidentifiedImageError:
        raise ValueError("image is not a PNG, JPEG or WebP file") from None
    except Image.DecompressionBombError as error:
        raise MediaTooLarge(f"image is too large to decode ({error})") from None
    except (OSError, SyntaxError) as error:
        raise ValueError(f"image is truncated or corrupt ({error})") from None


def photo_quality(images: Sequence[Image.Image]) -> np.ndarray:
    """Quality signals of photos, float32 (n, 3): sharpness (log1p of the variance of
    the grayscale Laplacian at 64 x 64, in grey levels squared), contrast (standard
    deviation of the luminance, 0-1) and brightness (mean luminance, 0-1)."""
    from PIL import Image
    from scipy.ndimage import laplace

    out = np.empty((len(images), 3), dtype=np.float32)
    for row, image in enumerate(images):
        grey = np.asarray(
            image.convert("L").resize((64, 64), Image.Resampling.BILINEAR), np.float64
        )
        out[row] = (np.log1p(laplace(grey).var()), grey.std() / 255, grey.mean() / 255)
    return out


WORK_SIDE = 128
"""Photos are scaled to at most this many pixels a side before background suppression."""


def suppress_background(
    image: Image.Image, tolerance: float = 40.0, fill: int = 235, step: int = 8
) -> Image.Image:
    """Replace the scene around the product with a light studio grey.

    A catalog's images are studio shots; a shopper's photo shows the product in a room.
    The colours along the photo's border (quantised in steps of ``step``, those seen at
    least 3 times) are taken as the scene's; every pixel (after a 3 x 3 median filter)
    within ``tolerance`` (RGB distance) of one of them becomes ``fill``. The photo is first
    scaled to at most :data:`WORK_SIDE` pixels a side.

    Returns:
        A new RGB image.
    """
    from PIL import Image as PILImage
    from PIL import ImageFilter

    work = image.convert("RGB")
    work.thumbnail((WORK_SIDE, WORK_SIDE))
    pixels = np.asarray(work)
    smooth = np.asarray(work.filter(ImageFilter.MedianFilter(3)), dtype=np.float32)
    border = np.concatenate([smooth[0], smooth[-1], smooth[:, 0], smooth[:, -1]])
    bins, counts = np.unique((border // step).astype(np.int64), axis=0, return_counts=True)
    palette = (bins[counts >= 3] * step + step / 2).astype(np.float32)
    if not len(palette):
        return work
    flat = smooth.reshape(-1, 3)
    distance = np.full(flat.shape[0], np.inf, dtype=np.float32)
    for colour in palette:  # P colours, each a vectorised pass over the pixels
        distance = np.minimum(distance, np.sqrt(((flat - colour) ** 2).sum(axis=1)))
    out = pixels.copy()
    out[(distance < tolerance).reshape(pixels.shape[:2])] = fill
    return PILImage.fromarray(out, "RGB")


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
