"""Shoppers' photos: the catalog renderer's product in another scene, seeded, with a
quality score; and the catalog images themselves stay exactly as they were."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fusionrank.datasets.shopworld.images import RenderJob, render
from fusionrank.datasets.shopworld.needs import relevance
from fusionrank.datasets.shopworld.photos import (
    PhotoConfig,
    choose_products,
    photo_queries,
    photographed_needs,
    render_photo,
)
from fusionrank.datasets.shopworld.truth import HiddenTruth

# sha256 of the decoded pixels of catalog renders, taken before photos.py shared the
# renderer's primitives: the catalog must stay byte-identical.
GOLDEN = {
    ("handbag", "striped"): "2071f573506596e2ecd744e83eddf81adb2aba48bbd67bacefab7eb8fa559fab",
    ("mug", "dotted"): "c4c3dd2ce385a01d9a5f1241b2619d5c9a35d9779e51e9e48572b2c34a57fb47",
    ("tshirt", "zigzag"): "a3b0a357f7bcab5f89843a45281215dab9ede90e0f03d38f223cb3ad479e0f2f",
}
CLEAN = PhotoConfig(background=0, crop=0, rotation=0, lighting=0, blur=0, noise=0)


@pytest.fixture(scope="module")
def truth(tiny_world: Path) -> HiddenTruth:
    return HiddenTruth.load(tiny_world / "truth")


@pytest.mark.parametrize(("shape", "pattern"), sorted(GOLDEN))
def test_catalog_renders_are_unchanged(shape: str, pattern: str, tmp_path: Path) -> None:
    path = tmp_path / "item.png"
    render(RenderJob(path, shape, (205, 30, 40), pattern, 0.3, 64, 7, 3))
    pixels = np.asarray(Image.open(path)).tobytes()
    assert hashlib.sha256(pixels).hexdigest() == GOLDEN[(shape, pattern)]


def test_photos_are_seeded_and_shaped(truth: HiddenTruth) -> None:
    a = photo_queries(truth.items, [0, 1, 2], PhotoConfig(size=96), seed=5)
    b = photo_queries(truth.items, [0, 1, 2], PhotoConfig(size=96), seed=5)
    c = photo_queries(truth.items, [0, 1, 2], PhotoConfig(size=96), seed=6)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.pixels, y.pixels)
        assert x.pixels.shape == (96, 96, 3) and x.pixels.dtype == np.uint8
        assert 0.0 <= x.quality <= 1.0
    assert not np.array_equal(a[0].pixels, c[0].pixels)
    assert [p.item for p in a] == [0, 1, 2] and a[0].image().size == (96, 96)


def test_the_product_keeps_its_colour(truth: HiddenTruth) -> None:
    """With no lighting, noise or blur, the product's colour is in the photo."""
    from fusionrank.datasets.shopworld.vocab import COLOURS

    item = 4
    photo = render_photo(truth.items, item, CLEAN, np.random.default_rng(0))
    rgb = np.array(COLOURS[truth.items.colour[item]].rgb)
    distance = np.abs(photo.pixels.astype(int) - rgb).max(axis=2)
    assert (distance <= 12).mean() > 0.05  # catalog jitter is at most 12 per channel


def test_quality_falls_as_strengths_rise(truth: HiddenTruth) -> None:
    clean = photo_queries(truth.items, range(10), CLEAN, seed=1)
    assert all(p.quality == 1.0 for p in clean)
    mild = photo_queries(truth.items, range(10), PhotoConfig(), seed=1)
    harsh = photo_queries(
        truth.items,
        range(10),
        PhotoConfig(background=1, crop=1, rotation=45, lighting=1, blur=4, noise=1),
        seed=1,
    )
    assert np.mean([p.quality for p in harsh]) < np.mean([p.quality for p in mild]) < 1.0


def test_blur_removes_detail(truth: HiddenTruth) -> None:
    sharp = render_photo(truth.items, 3, CLEAN, np.random.default_rng(0)).pixels
    config = PhotoConfig(background=0, crop=0, rotation=0, lighting=0, blur=4, noise=0)
    blurred = render_photo(truth.items, 3, config, np.random.default_rng(0)).pixels

    def detail(p: np.ndarray) -> float:
        grey = p.astype(float).mean(axis=2)
        return float(np.abs(np.diff(grey, axis=1)).mean())

    assert detail(blurred) < detail(sharp)


def test_chosen_products_fully_fit_their_needs(truth: HiddenTruth) -> None:
    needs = truth.needs.constraints[:10]
    items = choose_products(needs, truth.items.codes(), np.random.default_rng(0))
    assert (relevance(needs, truth.items.codes()[items]) == 3).all()
    impossible = np.array([[0, 0, 0, 0, 10_000]])
    with pytest.raises(ValueError, match="has no product that fully fits it"):
        choose_products(impossible, truth.items.codes(), np.random.default_rng(0))


def test_photographed_needs_are_visual_like() -> None:
    visual_like = np.array([True, False, True, True, False, True])
    chosen = photographed_needs(visual_like, 0.5, np.random.default_rng(0))
    assert chosen.sum() == 2 and not chosen[~visual_like].any()


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"photo_share": -0.1}, "photo_share=-0.1 must be in"),
        ({"size": 8}, "size=8 must be between"),
        ({"scale": (0.9, 0.2)}, "scale=\\(0.9, 0.2\\)"),
        ({"rotation": 90.0}, "rotation=90.0 must be in"),
        ({"blur": 9.0}, "blur=9.0 must be in"),
        ({"lighting": 2.0}, "lighting=2.0 must be in"),
    ],
)
def test_bad_config_is_a_clear_error(update: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PhotoConfig(**update)
