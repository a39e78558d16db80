"""ShopWorld's products: latent attributes, and titles and descriptions that omit some.

Colour and pattern are often left out of the text, and for a few (category, colour) and
(category, pattern) combinations sellers never write them at all ("hidden combinations"):
those products are findable by their colour or pattern only through their image. Brand and
material never show in an image, only in text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fusionrank.datasets.shopworld.vocab import (
    CATEGORIES,
    COLOURS,
    MATERIAL_FACTOR,
    MATERIALS,
    PATTERNS,
    category_material_allowed,
)

# How often an attribute is written, outside hidden combinations.
P_COLOUR_TITLE, P_COLOUR_DESCRIPTION = 0.5, 0.25
P_PATTERN_TITLE, P_PATTERN_DESCRIPTION = 0.45, 0.25
P_MATERIAL_TITLE, P_MATERIAL_DESCRIPTION = 0.55, 0.35
P_MENTION = {
    "colour": 1 - (1 - P_COLOUR_TITLE) * (1 - P_COLOUR_DESCRIPTION),
    "pattern": 1 - (1 - P_PATTERN_TITLE) * (1 - P_PATTERN_DESCRIPTION),
    "material": 1 - (1 - P_MATERIAL_TITLE) * (1 - P_MATERIAL_DESCRIPTION),
}
P_IN_TITLE = {  # given that the text names the attribute, the chance the title does
    "colour": P_COLOUR_TITLE / P_MENTION["colour"],
    "pattern": P_PATTERN_TITLE / P_MENTION["pattern"],
    "material": P_MATERIAL_TITLE / P_MENTION["material"],
}
PLAIN = PATTERNS.index("plain")

ATTRIBUTE_COLUMNS = ("category", "colour", "pattern", "material", "brand")


@dataclass(frozen=True, eq=False)
class Items:
    """Latent attributes of every product, as int codes into the vocabularies.

    Args:
        category, colour, pattern, material, brand: int64, shape (n_items,).
        price: float64, shape (n_items,).
        appeal: float64, shape (n_items,): how attractive the photo is, standard normal.
        mentions: bool, shape (n_items, 5): whether the text names each attribute of
            :data:`ATTRIBUTE_COLUMNS` (category and brand always).
    """

    category: np.ndarray
    colour: np.ndarray
    pattern: np.ndarray
    material: np.ndarray
    brand: np.ndarray
    price: np.ndarray
    appeal: np.ndarray
    mentions: np.ndarray

    def __len__(self) -> int:
        return int(self.category.shape[0])

    def codes(self) -> np.ndarray:
        """int64, shape (n_items, 5): the attributes of :data:`ATTRIBUTE_COLUMNS`."""
        return np.stack([getattr(self, name) for name in ATTRIBUTE_COLUMNS], axis=1)

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame({name: getattr(self, name) for name in ATTRIBUTE_COLUMNS})
        frame["price"] = self.price
        frame["appeal"] = self.appeal
        for i, name in enumerate(ATTRIBUTE_COLUMNS):
            frame[f"{name}_mentioned"] = self.mentions[:, i]
        return frame

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> Items:
        mentions = np.stack(
            [frame[f"{name}_mentioned"].to_numpy(bool) for name in ATTRIBUTE_COLUMNS], axis=1
        )
        return cls(
            **{name: frame[name].to_numpy(np.int64) for name in ATTRIBUTE_COLUMNS},
            price=frame["price"].to_numpy(np.float64),
            appeal=frame["appeal"].to_numpy(np.float64),
            mentions=mentions,
        )


def _brand_catalogue(n_brands: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Which categories each brand sells, bool (n_brands, n_categories), and its price tier."""
    n_categories = len(CATEGORIES)
    sells = np.zeros((n_brands, n_categories), dtype=bool)
    n_sold = rng.integers(2, 5, size=n_brands)
    for b in range(n_brands):
        sells[b, rng.choice(n_categories, size=n_sold[b], replace=False)] = True
    # Every category needs at least two brands, or brand queries would be trivial.
    for c in np.flatnonzero(sells.sum(axis=0) < 2):
        sells[rng.choice(n_brands, size=2, replace=False), c] = True
    tier = np.exp(rng.normal(0.0, 0.35, size=n_brands))
    return sells, tier


def _draw_per_category(
    category: np.ndarray, probabilities: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Draw one value per item from its category's row of ``probabilities``."""
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative[:, -1] = 1.0
    u = rng.random(size=len(category))
    return (u[:, None] > cumulative[category]).sum(axis=1).astype(np.int64)


def sample_hidden_combinations(share: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Pick the (category, colour) and (category, pattern) pairs whose sellers never name
    the colour or pattern.

    Returns:
        ``{"colour": bool (n_categories, n_colours), "pattern": bool (n_categories,
        n_patterns)}``; "plain" is never hidden.
    """
    colour = rng.random((len(CATEGORIES), len(COLOURS))) < share
    pattern = rng.random((len(CATEGORIES), len(PATTERNS))) < share
    pattern[:, PLAIN] = False
    return {"colour": colour, "pattern": pattern}


def sample_items(
    n_items: int,
    n_brands: int,
    hidden: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> Items:
    """Draw the latent attributes of ``n_items`` products."""
    n_categories = len(CATEGORIES)
    category = rng.choice(n_categories, size=n_items, p=rng.dirichlet(np.full(n_categories, 8.0)))
    colour = _draw_per_category(
        category, rng.dirichlet(np.full(len(COLOURS), 1.5), size=n_categories), rng
    )
    pattern_weights = np.full((n_categories, len(PATTERNS)), 1.0)
    pattern_weights[:, PLAIN] = 3.0
    pattern = _draw_per_category(category, _rows_dirichlet(pattern_weights * 2.0, rng), rng)
    allowed = category_material_allowed().astype(float)
    material = _draw_per_category(category, allowed / allowed.sum(axis=1, keepdims=True), rng)

    sells, tier = _brand_catalogue(n_brands, rng)
    popularity = rng.pareto(1.5, size=n_brands) + 0.2
    brand_weights = sells * popularity[:, None]
    brand = _draw_per_category(category, (brand_weights / brand_weights.sum(axis=0)).T, rng)

    base = np.array([c.base_price for c in CATEGORIES])
    factor = np.array([MATERIAL_FACTOR[m] for m in MATERIALS])
    price = base[category] * tier[brand] * factor[material] * rng.lognormal(0.0, 0.25, n_items)
    price = np.round(np.maximum(price, 1.0)) - 0.01

    mentions = np.ones((n_items, len(ATTRIBUTE_COLUMNS)), dtype=bool)
    mentions[:, 1] = ~hidden["colour"][category, colour] & (
        rng.random(n_items) < P_MENTION["colour"]
    )
    mentions[:, 2] = ~hidden["pattern"][category, pattern] & (
        rng.random(n_items) < P_MENTION["pattern"]
    )
    mentions[:, 3] = rng.random(n_items) < P_MENTION["material"]
    return Items(
        category=category.astype(np.int64),
        colour=colour,
        pattern=pattern,
        material=material,
        brand=brand,
        price=price,
        appeal=rng.standard_normal(n_items),
        mentions=mentions,
    )


def _rows_dirichlet(alpha: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One Dirichlet draw per row of ``alpha``, shape (n_rows, n_values)."""
    gamma = rng.gamma(alpha)
    return gamma / gamma.sum(axis=1, keepdims=True)
