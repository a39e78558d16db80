"""ShopWorld's shoppers take photos: a product that fits a need, as a phone would see it.

The product is drawn with the catalog renderer's own primitives (:func:`.images.
product_layer`: the category's silhouette, its colour and pattern), so the photo shows
the same attributes as the catalog image, but in a scene unlike the catalog's studio
shots: a two-tone room with clutter instead of a plain light background, and a crop,
scale, rotation, lighting (brightness, colour cast, a light gradient), blur and sensor
noise of their own. Each distortion's *severity* is drawn uniformly in
``[0, strength]`` and the photo's quality is ``1 - mean(severities / max strength)``, in
[0, 1]. Photo ``i`` draws from ``default_rng([seed, i])``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from fusionrank.datasets.shopworld.catalog import Items
from fusionrank.datasets.shopworld.images import product_layer
from fusionrank.datasets.shopworld.needs import relevance
from fusionrank.datasets.shopworld.vocab import CATEGORIES, COLOURS, PATTERNS

MAX_ROTATION = 45.0
MAX_BLUR = 4.0


@dataclass(frozen=True)
class PhotoConfig:
    """How shoppers' photos look; every strength is the largest severity drawn.

    Args:
        photo_share: Share of visual and mixed needs that also come as a photo, [0, 1].
        size: Photo side, pixels (32-512).
        background: Clutter of the scene, [0, 1].
        crop: How far the product may leave the frame, [0, 1] (1: up to 35 % of it).
        scale: (min, max) product size as a share of the frame side.
        rotation: Largest tilt, degrees (0-45).
        lighting: Brightness change, colour cast and light gradient, [0, 1].
        blur: Largest Gaussian blur radius at a 64-pixel photo, pixels (0-4).
        noise: Sensor noise, [0, 1] (1: standard deviation 20 of 255).
    """

    photo_share: float = 0.2
    size: int = 128
    background: float = 0.7
    crop: float = 0.5
    scale: tuple[float, float] = (0.4, 0.9)
    rotation: float = 20.0
    lighting: float = 0.5
    blur: float = 1.0
    noise: float = 0.4

    def __post_init__(self) -> None:
        for name in ("photo_share", "background", "crop", "lighting", "noise"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"photos.{name}={value} must be in [0, 1]")
        if not 32 <= self.size <= 512:
            raise ValueError(f"photos.size={self.size} must be between 32 and 512 pixels")
        if len(self.scale) != 2 or not 0.1 <= self.scale[0] <= self.scale[1] <= 1.0:
            raise ValueError(f"photos.scale={self.scale} must be (min, max) within [0.1, 1]")
        if not 0.0 <= self.rotation <= MAX_ROTATION:
            raise ValueError(f"photos.rotation={self.rotation} must be in [0, {MAX_ROTATION}]")
        if not 0.0 <= self.blur <= MAX_BLUR:
            raise ValueError(f"photos.blur={self.blur} must be in [0, {MAX_BLUR}] pixels")


@dataclass(frozen=True)
class Severity:
    """The drawn distortions of one photo, each in [0, 1] of its largest possible value."""

    background: float
    crop: float
    rotation: float
    lighting: float
    blur: float
    noise: float

    @property
    def quality(self) -> float:
        """``1 - mean(severities)``: 1 for a clean shot, 0 for the worst possible one."""
        values = [getattr(self, f.name) for f in fields(self)]
        return float(1.0 - np.mean(values))


@dataclass(frozen=True, eq=False)
class ShopperPhoto:
    """One photo query.

    Args:
        pixels: uint8, shape (size, size, 3), RGB.
        item: The catalog index of the photographed product.
        severity: Its distortions; ``severity.quality`` is the quality score.
    """

    pixels: np.ndarray
    item: int
    severity: Severity

    @property
    def quality(self) -> float:
        return self.severity.quality

    def image(self) -> Image.Image:
        return Image.fromarray(self.pixels, "RGB")


def choose_products(
    constraints: np.ndarray, item_codes: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """For each need, a random product that fully fits it (relevance grade 3).

    Args:
        constraints: int64, shape (n, 5): needs' constraints (-1 open).
        item_codes: int64, shape (n_items, 5): the catalog's attributes.

    Returns:
        int64, shape (n,).

    Raises:
        ValueError: If a need has no fully fitting product.
    """
    out = np.empty(len(constraints), dtype=np.int64)
    for row, need in enumerate(constraints):
        fits = np.flatnonzero(relevance(need[None, :], item_codes) == 3)
        if fits.size == 0:
            raise ValueError(f"need {row} ({need.tolist()}) has no product that fully fits it")
        out[row] = fits[int(rng.integers(fits.size))]
    return out


def _scene(size: int, strength: float, rng: np.random.Generator) -> Image.Image:
    """A two-tone room (wall over floor at a random height) with clutter."""
    wall, floor = (tuple(int(c) for c in rng.integers(60, 230, size=3)) for _ in range(2))
    image = Image.new("RGB", (size, size), wall)
    draw = ImageDraw.Draw(image)
    horizon = int(size * rng.uniform(0.45, 0.85))
    draw.rectangle([0, horizon, size, size], fill=floor)
    for _ in range(round(8 * strength)):
        x, y = rng.integers(-size // 8, size, size=2)
        w, h = rng.integers(size // 10, size // 3, size=2)
        shade = tuple(int(c) for c in rng.integers(30, 240, size=3))
        box = [int(x), int(y), int(x + w), int(y + h)]
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=shade)
    return image


def _light(pixels: np.ndarray, strength: float, rng: np.random.Generator) -> np.ndarray:
    """Brightness, a per-channel colour cast and a linear light gradient, float64."""
    size = pixels.shape[0]
    gain = 1.0 + strength * rng.uniform(-0.45, 0.3)
    cast = 1.0 + strength * rng.uniform(-0.15, 0.15, size=3)
    angle = rng.uniform(0, 2 * np.pi)
    axis = np.linspace(-0.5, 0.5, size)
    ramp = np.cos(angle) * axis[None, :] + np.sin(angle) * axis[:, None]
    gradient = 1.0 + 0.6 * strength * ramp
    return pixels * gain * cast[None, None, :] * gradient[:, :, None]


def render_photo(
    items: Items, item: int, config: PhotoConfig, rng: np.random.Generator
) -> ShopperPhoto:
    """Photograph catalog item ``item`` (its category, colour and pattern)."""
    size = config.size
    severity = Severity(*(float(rng.uniform(0, 1)) for _ in range(6)))
    amount = {
        "background": severity.background * config.background,
        "crop": severity.crop * config.crop,
        "rotation": severity.rotation * config.rotation / MAX_ROTATION,
        "lighting": severity.lighting * config.lighting,
        "blur": severity.blur * config.blur / MAX_BLUR,
        "noise": severity.noise * config.noise,
    }
    severity = Severity(**amount)
    image = _scene(size, severity.background, rng)
    scale = size * rng.uniform(*config.scale)
    overhang = 0.35 * severity.crop * scale  # how far the product may leave the frame
    low, high = -overhang, size - scale + overhang
    x0, y0 = rng.uniform(min(low, high), max(low, high), size=2)
    jitter = rng.integers(-12, 13, size=3)
    base = COLOURS[items.colour[item]].rgb
    rgb = tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(base, jitter, strict=True))
    shape, pattern = CATEGORIES[items.category[item]].shape, PATTERNS[items.pattern[item]]
    fill, mask = product_layer(size, shape, rgb, pattern, scale, (x0, y0), rng)  # type: ignore[arg-type]
    angle = float(rng.uniform(-1, 1)) * severity.rotation * MAX_ROTATION
    centre = (x0 + scale / 2, y0 + scale / 2)
    fill = fill.rotate(angle, Image.Resampling.BILINEAR, center=centre)
    mask = mask.rotate(angle, Image.Resampling.BILINEAR, center=centre)
    image.paste(fill, (0, 0), mask)
    radius = severity.blur * MAX_BLUR * size / 64
    if radius > 0:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    pixels = _light(np.asarray(image, dtype=np.float64), severity.lighting, rng)
    pixels += rng.normal(0.0, 20.0 * severity.noise, size=pixels.shape)
    out = np.clip(np.round(pixels), 0, 255).astype(np.uint8)
    return ShopperPhoto(out, int(item), severity)


def photo_queries(
    items: Items, products: Sequence[int] | np.ndarray, config: PhotoConfig, seed: int
) -> list[ShopperPhoto]:
    """Photo ``i`` shows ``products[i]`` and draws from ``default_rng([seed, i])``."""
    return [
        render_photo(items, int(item), config, np.random.default_rng([seed, i]))
        for i, item in enumerate(products)
    ]


def photographed_needs(
    visual_like: np.ndarray, share: float, rng: np.random.Generator
) -> np.ndarray:
    """Which needs also come as a photo: ``round(share * n)`` of the visual-like ones.

    Args:
        visual_like: bool, shape (n_needs,): needs with a visual intent (visual, mixed).
        share: Share of them photographed.

    Returns:
        bool, shape (n_needs,).
    """
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"photos.photo_share={share} must be in [0, 1]")
    candidates = np.flatnonzero(visual_like)
    chosen = np.zeros(visual_like.shape[0], dtype=bool)
    chosen[rng.choice(candidates, size=round(share * candidates.size), replace=False)] = True
    return chosen
