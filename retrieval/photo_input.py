"""Photos as query input: decoding with limits on bytes and pixels, quality signals, and
suppressing the scene around a product (used by :mod:`fusionrank.retrieval.photo`)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from fusionrank.retrieval.audio import MediaTooLarge

if TYPE_CHECKING:
    from PIL import Image

MIN_SIDE = 8


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
