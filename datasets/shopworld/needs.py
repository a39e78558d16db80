"""What ShopWorld's users look for: needs, their intents, and graded relevance.

A *need* is a set of attribute constraints (e.g. category=t-shirt, colour=red). Each need
is typed in ``n_query_variants`` wordings, the *queries*. A need is **image-only** when it
has a visual constraint (colour or pattern) and none of its fully matching products names
all its constraints in text: text search cannot find them, the image tower can.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusionrank.datasets.shopworld.catalog import ATTRIBUTE_COLUMNS, Items
from fusionrank.datasets.shopworld.vocab import colour_similarity

CATEGORY, COLOUR, PATTERN, MATERIAL, BRAND = range(5)
INTENTS: tuple[str, ...] = ("visual", "textual", "mixed", "broad")
OPEN = -1

# Which attributes each intent's needs constrain.
_SPECS: dict[str, tuple[tuple[int, ...], ...]] = {
    "visual": ((CATEGORY, COLOUR), (CATEGORY, PATTERN), (CATEGORY, COLOUR, PATTERN)),
    "textual": ((CATEGORY, BRAND), (CATEGORY, MATERIAL), (CATEGORY, BRAND, MATERIAL)),
    "mixed": (
        (CATEGORY, COLOUR, BRAND),
        (CATEGORY, COLOUR, MATERIAL),
        (CATEGORY, PATTERN, BRAND),
        (CATEGORY, PATTERN, MATERIAL),
        (CATEGORY, COLOUR, PATTERN, MATERIAL),
    ),
    "broad": ((CATEGORY,), (BRAND,)),
}
MIN_RELEVANT = 2


@dataclass(frozen=True, eq=False)
class Needs:
    """The needs of a world.

    Args:
        constraints: int64, shape (n_needs, 5): codes of :data:`ATTRIBUTE_COLUMNS`, ``OPEN``
            (-1) where unconstrained.
        intent: int64, shape (n_needs,): index into :data:`INTENTS`.
        image_only: bool, shape (n_needs,).
        n_relevant: int64, shape (n_needs,): products matching every constraint.
        frequency: float64, shape (n_needs,): share of sessions, sums to 1.
    """

    constraints: np.ndarray
    intent: np.ndarray
    image_only: np.ndarray
    n_relevant: np.ndarray
    frequency: np.ndarray

    def __len__(self) -> int:
        return int(self.constraints.shape[0])


def _candidates(items: Items, spec: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct constraint rows for one spec, with match counts and text findability."""
    codes = np.full((len(items), len(ATTRIBUTE_COLUMNS)), OPEN, dtype=np.int64)
    codes[:, spec] = items.codes()[:, spec]
    rows, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    named = items.mentions[:, spec].all(axis=1)
    findable = np.bincount(inverse.ravel(), weights=named, minlength=len(rows)) > 0
    keep = counts >= MIN_RELEVANT
    return rows[keep], counts[keep], findable[keep]


def _quotas(total: int, shares: np.ndarray) -> np.ndarray:
    """Integers proportional to ``shares`` that sum to ``total`` (largest remainder)."""
    raw = shares * total
    quotas = np.floor(raw).astype(np.int64)
    quotas[np.argsort(-(raw - quotas), kind="stable")[: total - quotas.sum()]] += 1
    return quotas


def sample_needs(
    items: Items,
    n_needs: int,
    intent_shares: dict[str, float],
    image_only_share: float,
    zipf_exponent: float,
    rng: np.random.Generator,
) -> Needs:
    """Choose ``n_needs`` needs with the configured intent mix and image-only share.

    Raises:
        ValueError: If the catalog is too small to give that many distinct needs.
    """
    per_intent = _quotas(n_needs, np.array([intent_shares[i] for i in INTENTS]))
    visual_like = np.array([i in ("visual", "mixed") for i in INTENTS])
    n_image_only = round(image_only_share * n_needs)
    image_only_quota = np.zeros(len(INTENTS), dtype=np.int64)
    if visual_like @ per_intent:
        image_only_quota[visual_like] = _quotas(
            n_image_only, per_intent[visual_like] / per_intent[visual_like].sum()
        )
    elif n_image_only:
        raise ValueError("image_only_query_share > 0 needs visual or mixed intents")
    chosen, intents, flags, counts = [], [], [], []
    for intent_id, intent in enumerate(INTENTS):
        pools = [_candidates(items, spec) for spec in _SPECS[intent]]
        rows = np.concatenate([p[0] for p in pools])
        n_match = np.concatenate([p[1] for p in pools])
        findable = np.concatenate([p[2] for p in pools])
        wanted_image_only = int(image_only_quota[intent_id])
        for want_image_only, n_wanted in (
            (True, wanted_image_only),
            (False, int(per_intent[intent_id]) - wanted_image_only),
        ):
            pool = np.flatnonzero(~findable if want_image_only else findable)
            if n_wanted > len(pool):
                kind = "image-only " if want_image_only else ""
                raise ValueError(
                    f"world: only {len(pool)} distinct {kind}{intent} needs exist for "
                    f"n_items={len(items)}, {n_wanted} were asked for; raise world.n_items "
                    "or lower world.n_needs (or world.image_only_query_share)"
                )
            picked = rng.choice(pool, size=n_wanted, replace=False)
            chosen.append(rows[picked])
            counts.append(n_match[picked])
            intents.append(np.full(n_wanted, intent_id))
            flags.append(np.full(n_wanted, want_image_only))
    order = rng.permutation(n_needs)
    frequency = 1.0 / np.arange(1, n_needs + 1) ** zipf_exponent
    return Needs(
        constraints=np.concatenate(chosen).astype(np.int64),
        intent=np.concatenate(intents).astype(np.int64),
        image_only=np.concatenate(flags),
        n_relevant=np.concatenate(counts).astype(np.int64),
        frequency=(frequency / frequency.sum())[order],
    )


def relevance(constraints: np.ndarray, item_codes: np.ndarray) -> np.ndarray:
    """Graded relevance of items to needs, 0 to 3.

    The *head* constraint is the category (or the brand when no category is given): an
    item that misses it gets 0. Otherwise each further constraint scores 1 on a match (a
    colour of the same family scores 0.5), and with ``f`` their mean (1 when there are
    none) the grade is 3 if ``f == 1``, 2 if ``f >= 0.5``, else 1.

    Args:
        constraints: int64, shape (..., 5): needs, ``OPEN`` where unconstrained.
        item_codes: int64, shape (..., 5): item attributes, broadcastable against
            ``constraints``; rows of ``PAD`` (-1) codes score 0.

    Returns:
        int8, the broadcast shape without the last axis.
    """
    constraints, item_codes = np.broadcast_arrays(constraints, item_codes)
    specified = constraints >= 0
    equal = (constraints == item_codes) & specified
    head = np.where(specified[..., CATEGORY], CATEGORY, BRAND)
    head_match = np.take_along_axis(equal, head[..., None], axis=-1)[..., 0]
    similarity = colour_similarity()
    colour_score = np.where(
        specified[..., COLOUR],
        similarity[np.maximum(constraints[..., COLOUR], 0), np.maximum(item_codes[..., COLOUR], 0)],
        0.0,
    )
    scores = equal.astype(np.float64)
    scores[..., COLOUR] = colour_score
    others = specified.copy()
    np.put_along_axis(others, head[..., None], False, axis=-1)
    n_others = others.sum(axis=-1)
    fraction = np.where(n_others > 0, (scores * others).sum(axis=-1) / np.maximum(n_others, 1), 1.0)
    grade = np.where(fraction >= 1.0, 3, np.where(fraction >= 0.5, 2, 1))
    valid = head_match & (item_codes[..., CATEGORY] >= 0)
    return np.where(valid, grade, 0).astype(np.int8)
