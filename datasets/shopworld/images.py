"""Product photos rendered with Pillow from the latent attributes.

The category gives the silhouette, the colour fills it, the pattern is drawn over it, and
the photo's appeal sets how large and centred the product is and how clean the background
looks. Every image's randomness comes from ``(seed, item index)``, so the files are the
same whether they are rendered in one process or several.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from fusionrank.datasets.shopworld.vocab import CATEGORIES, COLOURS, PATTERNS

# Silhouettes as polygons in the unit square (x right, y down).
_POLYGONS: dict[str, list[tuple[float, float]]] = {
    "tshirt": [(0.3, 0.1), (0.42, 0.1), (0.5, 0.18), (0.58, 0.1), (0.7, 0.1), (0.95, 0.3),
               (0.83, 0.42), (0.75, 0.35), (0.75, 0.95), (0.25, 0.95), (0.25, 0.35),
               (0.17, 0.42), (0.05, 0.3)],
    "dress": [(0.38, 0.05), (0.45, 0.05), (0.5, 0.15), (0.55, 0.05), (0.62, 0.05),
              (0.64, 0.4), (0.9, 0.95), (0.1, 0.95), (0.36, 0.4)],
    "trousers": [(0.25, 0.05), (0.75, 0.05), (0.82, 0.95), (0.58, 0.95), (0.5, 0.35),
                 (0.42, 0.95), (0.18, 0.95)],
    "shoe": [(0.05, 0.55), (0.35, 0.5), (0.45, 0.3), (0.65, 0.3), (0.7, 0.5), (0.95, 0.62),
             (0.95, 0.78), (0.05, 0.78)],
    "hat": [(0.05, 0.7), (0.2, 0.62), (0.25, 0.35), (0.4, 0.2), (0.6, 0.2), (0.75, 0.35),
            (0.8, 0.62), (0.95, 0.7), (0.95, 0.78), (0.05, 0.78)],
    "handbag": [(0.25, 0.35), (0.75, 0.35), (0.9, 0.9), (0.1, 0.9)],
    "backpack": [(0.25, 0.15), (0.75, 0.15), (0.82, 0.3), (0.82, 0.92), (0.18, 0.92),
                 (0.18, 0.3)],
    "mug": [(0.15, 0.2), (0.7, 0.2), (0.7, 0.9), (0.15, 0.9)],
    "vase": [(0.42, 0.05), (0.58, 0.05), (0.56, 0.25), (0.8, 0.5), (0.72, 0.95),
             (0.28, 0.95), (0.2, 0.5), (0.44, 0.25)],
    "lamp": [(0.3, 0.08), (0.7, 0.08), (0.85, 0.45), (0.54, 0.45), (0.54, 0.82),
             (0.75, 0.82), (0.75, 0.92), (0.25, 0.92), (0.25, 0.82), (0.46, 0.82),
             (0.46, 0.45), (0.15, 0.45)],
    "cushion": [(0.1, 0.15), (0.5, 0.22), (0.9, 0.15), (0.84, 0.5), (0.9, 0.85), (0.5, 0.78),
                (0.1, 0.85), (0.16, 0.5)],
    "umbrella": [(0.05, 0.5), (0.15, 0.3), (0.3, 0.17), (0.5, 0.12), (0.7, 0.17), (0.85, 0.3),
                 (0.95, 0.5), (0.52, 0.5), (0.52, 0.85), (0.62, 0.85), (0.62, 0.92),
                 (0.46, 0.92), (0.46, 0.5)],
}  # fmt: skip
# Handles drawn as thick arcs: (bounding box in the unit square, start, end degrees).
_HANDLES: dict[str, tuple[tuple[float, float, float, float], int, int]] = {
    "handbag": ((0.3, 0.1, 0.7, 0.55), 180, 360),
    "backpack": ((0.38, 0.02, 0.62, 0.25), 180, 360),
    "mug": ((0.6, 0.35, 0.92, 0.75), 270, 90),
}


@dataclass(frozen=True)
class RenderJob:
    """Everything needed to render one product image."""

    path: Path
    shape: str
    rgb: tuple[int, int, int]
    pattern: str
    appeal: float
    size: int
    seed: int
    index: int


def _contrast(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    luminance = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (245, 245, 245) if luminance < 140 else (25, 25, 25)


def _draw_pattern(
    canvas: Image.Image, pattern: str, rgb: tuple[int, int, int], rng: np.random.Generator
) -> None:
    draw = ImageDraw.Draw(canvas)
    size = canvas.size[0]
    ink = _contrast(rgb)
    step = max(4, size // int(rng.integers(6, 10)))
    phase = int(rng.integers(0, step))
    width = max(1, step // 3)
    if pattern == "striped":
        for y in range(-step + phase, size, step):
            draw.rectangle([0, y, size, y + width - 1], fill=ink)
    elif pattern == "dotted":
        radius = max(1, step // 4)
        for y in range(phase, size, step):
            shift = step // 2 if (y // step) % 2 else 0
            for x in range(phase + shift, size, step):
                draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=ink)
    elif pattern == "checked":
        for y in range(0, size, step):
            for x in range((y // step) % 2 * step, size, 2 * step):
                draw.rectangle([x, y, x + step - 1, y + step - 1], fill=ink)
    elif pattern == "zigzag":
        for y in range(-step + phase, size + step, step):
            points = [
                (x, y + (step // 2 if (x // (step // 2 or 1)) % 2 else 0))
                for x in range(0, size + step, max(1, step // 2))
            ]
            draw.line(points, fill=ink, width=width)
    elif pattern == "diagonal":
        for offset in range(-size + phase, size, step):
            draw.line([(offset, size), (offset + size, 0)], fill=ink, width=width)


def render(job: RenderJob) -> None:
    """Render one product photo to ``job.path`` as PNG."""
    rng = np.random.default_rng([job.seed, job.index])
    size = job.size
    quality = 1 / (1 + np.exp(-job.appeal))  # 0 (poor photo) .. 1 (studio shot)
    light = int(200 + 50 * quality)
    tint = rng.integers(-25, 26, size=3) * (1 - quality)
    background = tuple(int(np.clip(light + t, 0, 255)) for t in tint)
    image = Image.new("RGB", (size, size), background)
    clutter = ImageDraw.Draw(image)
    for _ in range(round(4 * (1 - quality))):
        x, y = rng.integers(0, size, size=2)
        w, h = rng.integers(size // 8, size // 3, size=2)
        shade = tuple(int(c) for c in rng.integers(120, 220, size=3))
        clutter.rectangle([x, y, x + w, y + h], fill=shade)

    scale = size * float(np.clip(0.55 + 0.35 * quality + rng.normal(0, 0.04), 0.45, 0.95))
    slack = size - scale
    centre_pull = 0.5 + 0.45 * quality
    x0 = slack * (0.5 + (rng.random() - 0.5) * (1 - centre_pull) * 2)
    y0 = slack * (0.5 + (rng.random() - 0.5) * (1 - centre_pull) * 2)
    jitter = rng.integers(-12, 13, size=3)
    r, g, b = (int(np.clip(c + j, 0, 255)) for c, j in zip(job.rgb, jitter, strict=True))
    fill, mask = product_layer(size, job.shape, (r, g, b), job.pattern, scale, (x0, y0), rng)
    image.paste(fill, (0, 0), mask)
    job.path.parent.mkdir(parents=True, exist_ok=True)
    image.save(job.path, format="PNG", optimize=False)


def product_layer(
    size: int,
    shape: str,
    rgb: tuple[int, int, int],
    pattern: str,
    scale: float,
    origin: tuple[float, float],
    rng: np.random.Generator,
) -> tuple[Image.Image, Image.Image]:
    """The product drawn on a ``size`` x ``size`` canvas: its patterned fill (RGB) and
    its silhouette mask (L), the silhouette's unit square scaled by ``scale`` pixels and
    placed at ``origin``. Draws the pattern's step and phase from ``rng``."""
    fill = Image.new("RGB", (size, size), rgb)
    _draw_pattern(fill, pattern, rgb, rng)
    mask = Image.new("L", (size, size), 0)
    mask_draw = ImageDraw.Draw(mask)
    x0, y0 = origin
    polygon = [(x0 + x * scale, y0 + y * scale) for x, y in _POLYGONS[shape]]
    mask_draw.polygon(polygon, fill=255)
    if shape in _HANDLES:
        (bx0, by0, bx1, by1), start, end = _HANDLES[shape]
        box = [x0 + bx0 * scale, y0 + by0 * scale, x0 + bx1 * scale, y0 + by1 * scale]
        mask_draw.arc(box, start, end, fill=255, width=max(2, int(scale / 14)))
    return fill, mask


def render_jobs(
    paths: list[Path],
    category: np.ndarray,
    colour: np.ndarray,
    pattern: np.ndarray,
    appeal: np.ndarray,
    size: int,
    seed: int,
) -> list[RenderJob]:
    """One job per item, rendering item ``i`` to ``paths[i]``."""
    return [
        RenderJob(
            path=paths[i],
            shape=CATEGORIES[category[i]].shape,
            rgb=COLOURS[colour[i]].rgb,
            pattern=PATTERNS[pattern[i]],
            appeal=float(appeal[i]),
            size=size,
            seed=seed,
            index=i,
        )
        for i in range(category.shape[0])
    ]


def render_all(
    jobs: list[RenderJob], n_workers: int, advance: Callable[[int], None] | None = None
) -> None:
    """Render every job, in ``n_workers`` processes when there are enough jobs."""
    chunk = 256
    batches = [jobs[i : i + chunk] for i in range(0, len(jobs), chunk)]
    if n_workers <= 1 or len(jobs) < 2 * chunk:
        for batch in batches:
            _render_batch(batch)
            if advance is not None:
                advance(len(batch))
        return
    with ProcessPoolExecutor(max_workers=n_workers) as pool:
        for done in pool.map(_render_batch, batches):
            if advance is not None:
                advance(done)


def _render_batch(batch: list[RenderJob]) -> int:
    for job in batch:
        render(job)
    return len(batch)
