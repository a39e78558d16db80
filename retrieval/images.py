"""Reading product images into model input, and hashing them for the embedding cache."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def read_image_bytes(path: Path) -> bytes:
    """The bytes of one image file.

    Raises:
        ValueError: If the file is missing, naming it and the fix.
    """
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ValueError(
            f"catalog image {path} does not exist; add the file or correct the catalog's "
            "image_path (relative to the catalog's folder)"
        ) from None
    except OSError as error:
        raise ValueError(f"catalog image {path} cannot be read: {error}") from None


def content_key(data: bytes) -> str:
    """The cache key of an image: the sha1 hex digest of its bytes."""
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def decode_images(
    blobs: Sequence[bytes], paths: Sequence[Path], preprocess: Callable[[Any], Any]
) -> Any:
    """Decode image files and apply open_clip's preprocessing.

    Args:
        blobs: The files' bytes, n of them.
        paths: Their paths, for errors.
        preprocess: open_clip's eval transform (PIL image -> float tensor (3, H, W)).

    Returns:
        float32 torch tensor, shape (n, 3, H, W).

    Raises:
        ValueError: If a file is not an image PIL can read, naming it.
    """
    import torch
    from PIL import Image, UnidentifiedImageError

    tensors = []
    for blob, path in zip(blobs, paths, strict=True):
        try:
            with Image.open(io.BytesIO(blob)) as image:
                tensors.append(preprocess(image.convert("RGB")))
        except (UnidentifiedImageError, OSError) as error:
            raise ValueError(
                f"catalog image {path} is not a readable image ({error}); replace the file"
            ) from None
    return torch.stack(tensors)
