"""ShopWorld's attribute vocabularies: the words a shop uses and how things look.

Every attribute value has an integer code (its position in the tuple below); the catalog
generator works on codes and turns them into words and pixels at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Category:
    name: str
    synonyms: tuple[str, ...]
    shape: str
    base_price: float
    materials: tuple[str, ...]


CATEGORIES: tuple[Category, ...] = (
    Category(
        "t-shirt", ("t-shirt", "tee", "tshirt"), "tshirt", 20, ("cotton", "linen", "polyester")
    ),
    Category(
        "dress", ("dress", "frock", "gown"), "dress", 60, ("cotton", "linen", "silk", "polyester")
    ),
    Category(
        "trousers",
        ("trousers", "pants", "slacks"),
        "trousers",
        50,
        ("cotton", "denim", "linen", "wool"),
    ),
    Category("sneakers", ("sneakers", "trainers", "shoes"), "shoe", 80, ("leather", "canvas")),
    Category("hat", ("hat", "cap", "beanie"), "hat", 25, ("wool", "cotton", "straw")),
    Category(
        "handbag", ("handbag", "purse", "tote"), "handbag", 90, ("leather", "canvas", "polyester")
    ),
    Category(
        "backpack",
        ("backpack", "rucksack", "daypack"),
        "backpack",
        60,
        ("canvas", "polyester", "leather"),
    ),
    Category("mug", ("mug", "cup", "coffee mug"), "mug", 12, ("ceramic", "glass", "metal")),
    Category("vase", ("vase", "flower vase", "urn"), "vase", 35, ("ceramic", "glass")),
    Category("lamp", ("lamp", "table lamp", "light"), "lamp", 55, ("metal", "wood", "glass")),
    Category(
        "cushion",
        ("cushion", "pillow", "throw pillow"),
        "cushion",
        25,
        ("cotton", "linen", "wool", "silk"),
    ),
    Category("umbrella", ("umbrella", "brolly", "parasol"), "umbrella", 22, ("polyester", "nylon")),
)


@dataclass(frozen=True)
class Colour:
    name: str
    synonyms: tuple[str, ...]
    rgb: tuple[int, int, int]
    family: str


COLOURS: tuple[Colour, ...] = (
    Colour("red", ("red", "scarlet", "crimson"), (205, 30, 40), "red"),
    Colour("orange", ("orange", "tangerine"), (240, 130, 20), "orange"),
    Colour("yellow", ("yellow", "mustard", "lemon"), (245, 215, 30), "yellow"),
    Colour("green", ("green", "emerald"), (40, 150, 50), "green"),
    Colour("teal", ("teal", "turquoise"), (20, 150, 150), "blue"),
    Colour("blue", ("blue", "cobalt", "azure"), (40, 90, 220), "blue"),
    Colour("navy", ("navy", "dark blue"), (20, 30, 100), "blue"),
    Colour("purple", ("purple", "violet", "plum"), (130, 40, 160), "purple"),
    Colour("pink", ("pink", "rose", "blush"), (245, 140, 180), "red"),
    Colour("brown", ("brown", "chocolate", "tan"), (120, 70, 30), "orange"),
    Colour("black", ("black", "jet black"), (20, 20, 20), "dark"),
    Colour("white", ("white", "ivory", "cream"), (250, 250, 245), "light"),
    Colour("grey", ("grey", "gray", "charcoal"), (130, 130, 130), "dark"),
)

PATTERNS: tuple[str, ...] = ("plain", "striped", "dotted", "checked", "zigzag", "diagonal")
PATTERN_SYNONYMS: dict[str, tuple[str, ...]] = {
    "plain": ("plain", "solid"),
    "striped": ("striped", "stripy", "stripe"),
    "dotted": ("dotted", "polka dot", "spotted"),
    "checked": ("checked", "plaid", "gingham"),
    "zigzag": ("zigzag", "chevron"),
    "diagonal": ("diagonal stripe", "slanted stripe", "bias stripe"),
}

MATERIALS: tuple[str, ...] = tuple(
    sorted({material for category in CATEGORIES for material in category.materials})
)
MATERIAL_FACTOR: dict[str, float] = {
    "cotton": 1.0, "linen": 1.2, "polyester": 0.8, "silk": 1.8, "denim": 1.1, "wool": 1.4,
    "leather": 1.7, "canvas": 0.9, "straw": 0.8, "ceramic": 1.0, "glass": 1.2, "metal": 1.3,
    "wood": 1.2, "nylon": 0.8,
}  # fmt: skip

SEGMENTS: tuple[str, ...] = ("bargain", "style", "premium")

_SYLLABLES_A = ("nor", "vel", "kes", "ara", "lum", "tor", "bre", "sol", "mar", "fen", "ori", "cal")
_SYLLABLES_B = ("da", "mont", "trel", "vik", "ena", "ston", "lio", "wick", "ra", "bel", "dor", "ix")


def brand_names(n_brands: int, rng: np.random.Generator) -> tuple[str, ...]:
    """``n_brands`` distinct invented brand names, drawn from syllables."""
    pairs = [a + b for a in _SYLLABLES_A for b in _SYLLABLES_B]
    triples = [a + b + c for a in _SYLLABLES_A for b in _SYLLABLES_B for c in ("o", "a")]
    pool = pairs + triples
    if n_brands > len(pool):
        raise ValueError(f"n_brands={n_brands} exceeds the {len(pool)} names ShopWorld can make")
    chosen = rng.choice(len(pool), size=n_brands, replace=False)
    return tuple(pool[i].capitalize() for i in chosen)


def colour_similarity() -> np.ndarray:
    """float64, shape (n_colours, n_colours): 1 for the same colour, 0.5 within a family."""
    families = np.array([colour.family for colour in COLOURS])
    similarity = np.where(families[:, None] == families[None, :], 0.5, 0.0)
    np.fill_diagonal(similarity, 1.0)
    return similarity


def category_material_allowed() -> np.ndarray:
    """bool, shape (n_categories, n_materials): which materials each category comes in."""
    allowed = np.zeros((len(CATEGORIES), len(MATERIALS)), dtype=bool)
    for c, category in enumerate(CATEGORIES):
        for material in category.materials:
            allowed[c, MATERIALS.index(material)] = True
    return allowed
