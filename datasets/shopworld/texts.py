"""Words for ShopWorld: product titles and descriptions, and query strings.

Random choices are drawn for all items at once; only the string assembly is per item.
"""

from __future__ import annotations

import numpy as np

from fusionrank.datasets.shopworld.catalog import P_IN_TITLE, Items
from fusionrank.datasets.shopworld.vocab import (
    CATEGORIES,
    COLOURS,
    MATERIALS,
    PATTERN_SYNONYMS,
    PATTERNS,
)

_FILLERS = (
    "Everyday essential.",
    "Easy care.",
    "A customer favourite.",
    "Made to last.",
    "Ships within two days.",
    "Great as a gift.",
    "Designed for daily use.",
    "Lightweight and practical.",
)


def _pick(options: tuple[str, ...], u: float) -> str:
    return options[int(u * len(options))]


def item_texts(
    items: Items, brands: tuple[str, ...], rng: np.random.Generator
) -> tuple[list[str], list[str]]:
    """Titles and descriptions for every item.

    Each attribute the text names (``items.mentions``) goes into the title or the
    description; the title's word order follows one of three templates.
    """
    n = len(items)
    u = rng.random((n, 10))
    colour_title = u[:, 0] < P_IN_TITLE["colour"]
    pattern_title = u[:, 1] < P_IN_TITLE["pattern"]
    material_title = u[:, 2] < P_IN_TITLE["material"]
    template = rng.integers(0, 3, size=n)
    fillers = rng.integers(0, len(_FILLERS), size=(n, 2))
    titles: list[str] = []
    descriptions: list[str] = []
    for i in range(n):
        category = CATEGORIES[items.category[i]]
        noun = _pick(category.synonyms, u[i, 3])
        brand = brands[items.brand[i]]
        colour = _pick(COLOURS[items.colour[i]].synonyms, u[i, 4])
        pattern = _pick(PATTERN_SYNONYMS[PATTERNS[items.pattern[i]]], u[i, 5])
        material = MATERIALS[items.material[i]]
        colour_named, pattern_named, material_named = items.mentions[i, 1:4]
        adjectives = [
            word
            for word, named, in_title in (
                (colour, colour_named, colour_title[i]),
                (pattern, pattern_named, pattern_title[i]),
                (material, material_named, material_title[i]),
            )
            if named and in_title
        ]
        sentences = []
        if material_named and not material_title[i]:
            sentences.append(f"Made from {material}.")
        if colour_named and not colour_title[i]:
            sentences.append(f"Finished in {colour}.")
        if pattern_named and not pattern_title[i]:
            sentences.append(f"Features a {pattern} design.")
        sentences.append(_FILLERS[fillers[i, 0]])
        if fillers[i, 1] != fillers[i, 0]:
            sentences.append(_FILLERS[fillers[i, 1]])
        titles.append(_title(template[i], brand, adjectives, noun))
        descriptions.append(" ".join(sentences))
    return titles, descriptions


def _title(template: int, brand: str, adjectives: list[str], noun: str) -> str:
    described = " ".join([*adjectives, noun])
    if template == 0:
        return f"{brand} {described}"
    if template == 1:
        return f"{described} by {brand}"
    if adjectives:
        return f"{brand} {noun} - {' '.join(adjectives)}"
    return f"{brand} {noun}"


def query_text(constraints: np.ndarray, brands: tuple[str, ...], variant: int) -> str:
    """The query string of one need in one wording.

    Args:
        constraints: int64, shape (5,): codes of (category, colour, pattern, material,
            brand), -1 where the need leaves that attribute open.
        brands: Brand names.
        variant: Which wording; different variants use other synonyms and word orders.
    """
    category, colour, pattern, material, brand = (int(c) for c in constraints)
    words = []
    if colour >= 0:
        words.append(COLOURS[colour].synonyms[variant % len(COLOURS[colour].synonyms)])
    if pattern >= 0:
        synonyms = PATTERN_SYNONYMS[PATTERNS[pattern]]
        words.append(synonyms[variant % len(synonyms)])
    if material >= 0:
        words.append(MATERIALS[material])
    noun = None
    if category >= 0:
        noun = CATEGORIES[category].synonyms[variant % len(CATEGORIES[category].synonyms)]
    brand_word = brands[brand].lower() if brand >= 0 else None
    if variant % 2 == 0:
        parts = [brand_word, *words, noun]
    else:
        parts = [noun, *words, brand_word]
    text = " ".join(p for p in parts if p)
    if variant % 2 == 1 and category < 0 and material < 0 and colour < 0 and pattern < 0:
        text = f"{text} store"
    return text.lower()
