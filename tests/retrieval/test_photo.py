"""Photo queries: the run's CLIP image tower encodes a photo, the image index ranks the
products, text fuses in, and bad images are clear errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fusionrank.datasets.shopworld.photos import PhotoConfig, render_photo
from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.retrieval.audio import MediaTooLarge
from fusionrank.retrieval.photo import (
    PHOTO_FEATURE_NAMES,
    PhotoSearch,
    no_photo_features,
)
from fusionrank.retrieval.photo_input import (
    PhotoLimits,
    as_image,
    decode_image,
    photo_quality,
    suppress_background,
)
from fusionrank.types import Query

MILD = PhotoConfig(
    size=64,
    background=0.2,
    crop=0.0,
    scale=(0.7, 0.85),
    rotation=5.0,
    lighting=0.1,
    blur=0.0,
    noise=0.1,
)


@pytest.fixture(scope="module")
def search(tiny_retriever) -> PhotoSearch:
    return PhotoSearch.of(tiny_retriever)


@pytest.fixture(scope="module")
def truth(tiny_world: Path) -> HiddenTruth:
    return HiddenTruth.load(tiny_world / "truth")


def test_a_catalog_image_as_a_photo_retrieves_its_product_first(
    tiny_retriever, search, tiny_catalog
) -> None:
    """Encoded as it is, a catalog image is its own nearest product: the photo path
    (decode, preprocess, image tower, index) is the catalog's."""
    as_is = PhotoSearch.of(tiny_retriever, search.encoder.clip, background="keep")
    items = [0, 7, 42]
    photos = [Image.open(tiny_catalog.image_paths()[i]) for i in items]
    results = as_is.search(photos, k=5)
    assert results.item_index[:, 0].tolist() == items
    assert results.item_index.shape == (3, 5) and results.scores.dtype == np.float32
    assert np.all(np.diff(results.scores, axis=1) <= 0)  # best first
    assert np.isnan(results.text_score).all()


def test_a_shoppers_photo_finds_products_of_its_colour(search, truth) -> None:
    """A mild shopper's photo (another background, scale, lighting) of a product: the
    suite's tiny CLIP (40 steps on 32-pixel images) is weak, but its top 10 share the
    photographed product's colour well above the catalog's base rate (measured 0.18
    against 0.09)."""
    items = list(range(0, 300, 15))
    photos = [render_photo(truth.items, i, MILD, np.random.default_rng(i)).pixels for i in items]
    results = search.search(photos, k=10)
    colour = truth.items.colour
    same_colour = (colour[results.item_index] == colour[items][:, None]).mean()
    base_rate = (colour[None, :] == colour[items][:, None]).mean()
    assert same_colour > 1.5 * base_rate, (same_colour, base_rate)


def test_photo_with_text_at_weight_zero_is_the_text_ranking(
    tiny_retriever, search, tiny_catalog
) -> None:
    text_only = PhotoSearch.of(tiny_retriever, search.encoder.clip, photo_weight=0.0)
    photo = Image.open(tiny_catalog.image_paths()[5])
    fused = text_only.search([photo], k=5, texts=["red t-shirt"])
    typed = tiny_retriever.search([Query("q", "red t-shirt")], k=5)
    assert fused.item_index[0].tolist() == typed.item_index[0].tolist()
    np.testing.assert_allclose(fused.scores[0], typed.features[0, :, -1], rtol=1e-4, atol=1e-5)
    both = search.search([photo, photo], k=5, texts=["red t-shirt", None])
    assert np.isfinite(both.text_score[0]).all() and np.isnan(both.text_score[1]).all()


def test_quality_features_see_blur(search, truth) -> None:
    sharp = render_photo(truth.items, 3, MILD, np.random.default_rng(0))
    blurred = render_photo(
        truth.items, 3, PhotoConfig(size=64, blur=4.0, noise=0.0), np.random.default_rng(0)
    )
    quality = photo_quality([sharp.image(), blurred.image()])
    assert quality.shape == (2, 3) and quality.dtype == np.float32
    assert quality[1, 0] < quality[0, 0]  # sharpness
    features = search.search([sharp.pixels], k=3).features
    assert features.shape == (1, len(PHOTO_FEATURE_NAMES)) and features[0, 0] == 1.0
    assert no_photo_features(2).shape == (2, len(PHOTO_FEATURE_NAMES))


def png_bytes(size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_bytes_decode_and_bad_files_are_clear_errors() -> None:
    assert decode_image(png_bytes()).size == (16, 16)
    with pytest.raises(ValueError, match="image is empty"):
        decode_image(b"")
    with pytest.raises(ValueError, match="not a PNG, JPEG or WebP"):
        decode_image(b"GIF89a not allowed")
    with pytest.raises(ValueError, match="truncated or corrupt"):
        decode_image(png_bytes((64, 64))[:-30])
    with pytest.raises(MediaTooLarge, match="declares 4000x4000"):
        decode_image(png_bytes((4000, 4000)), PhotoLimits(max_pixels=1_000_000))
    with pytest.raises(MediaTooLarge, match="bytes; at most"):
        decode_image(png_bytes(), PhotoLimits(max_bytes=len(png_bytes()) - 1))


@pytest.mark.parametrize(
    ("photo", "message"),
    [
        (np.zeros((32, 32, 3), np.float32), "uint8 array"),
        (np.zeros((32, 32, 5), np.uint8), "must have shape"),
        (np.zeros((4, 32, 3), np.uint8), "at least 8"),
        ("photo.png", "got str"),
    ],
)
def test_bad_photo_arrays_are_clear_errors(photo, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        as_image(photo)


def test_background_suppression_greys_the_scene_and_keeps_the_product(search, truth) -> None:
    config = PhotoConfig(size=96, background=0, crop=0, rotation=0, lighting=0, blur=0, noise=0)
    photo = render_photo(truth.items, 4, config, np.random.default_rng(0))
    out = np.asarray(suppress_background(photo.image()))
    assert out.shape == (96, 96, 3)
    grey = (out == 235).all(axis=2)
    assert grey[0].all() and grey[-1].all()  # the border was scene
    from fusionrank.datasets.shopworld.vocab import COLOURS

    rgb = np.array(COLOURS[truth.items.colour[4]].rgb)
    product = np.abs(out.astype(int) - rgb).max(axis=2) <= 12
    assert product.mean() > 0.05 and not (grey & product).any()
    with pytest.raises(ValueError, match="must be 'suppress' or 'keep'"):
        PhotoSearch(search.modality, search.encoder.clip, background="blur")  # type: ignore[arg-type]
