"""A small own shop for end-to-end tests: a catalog as a user exports it, and search logs
in one of several edge-case shapes that the validator accepts.

The catalog looks like a real export: string ids such as ``SKU-00017-B``, unicode titles,
NaN descriptions, a ``category`` like ``home/mug``, an extra ``supplier`` column, prices,
no images. The logs come from a noisy logging ranker (so items move between positions)
and position-biased users; each :class:`LogShape` removes one thing real logs often
lack: reformulations, second pages, more than one query, purchases, more than one session
per query, clicks below rank 1. No shape records propensities unless it says so.

Everything is drawn from one seeded ``numpy.random.Generator``: same shape and seed,
same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CATEGORIES = (
    ("home/mug", "Tasse"),
    ("home/vase", "Vase"),
    ("home/lamp", "Lampe"),
    ("fashion/t-shirt", "T-shirt"),
    ("fashion/scarf", "Écharpe"),
    ("fashion/bag", "Sac"),
)
COLOURS = ("rouge", "bleu", "grün", "noir", "crème", "ocre")
MATERIALS = ("coton bio", "céramique", "lin", "verre soufflé", "laine")
SLATE = 8


@dataclass(frozen=True)
class LogShape:
    """One shape of logs.

    Args:
        name: The shape's name (test ids, run names).
        n_queries: Distinct queries.
        n_sessions: Logged sessions.
        one_session_per_query: Each query is searched in exactly one session
            (``n_sessions`` is then ``n_queries``; set no reformulations with it).
        reformulation_rate: Probability that a user who did not buy types another query.
        second_page_rate: Probability that a user opens the next result page.
        purchase_rate: Probability of a purchase after a click; 0 keeps the column, all 0.
        purchases_column: Whether the logs have a ``purchases`` column at all.
        rank1_clicks_only: Users click only the first result.
        propensities: Whether the logs record the logging policy's propensities.
    """

    name: str
    n_queries: int = 12
    n_sessions: int = 240
    one_session_per_query: bool = False
    reformulation_rate: float = 0.3
    second_page_rate: float = 0.3
    purchase_rate: float = 0.3
    purchases_column: bool = True
    rank1_clicks_only: bool = False
    propensities: bool = False


SHAPES = (
    LogShape("no-reformulations", reformulation_rate=0.0),
    LogShape("no-second-pages", second_page_rate=0.0),
    LogShape("one-query", n_queries=1, n_sessions=120, reformulation_rate=0.0),
    LogShape("no-purchases", purchase_rate=0.0),
    LogShape("no-purchase-column", purchases_column=False),
    LogShape(
        "one-session-per-query", n_queries=30, one_session_per_query=True, reformulation_rate=0.0
    ),
    LogShape("rank1-clicks", rank1_clicks_only=True),
)
SHAPE_BY_NAME = {shape.name: shape for shape in SHAPES}


def own_catalog(n_items: int, rng: np.random.Generator) -> pd.DataFrame:
    """An export of ``n_items`` products (module docstring): category, colour, material
    drawn at random; a third of the descriptions are missing."""
    category = rng.integers(0, len(CATEGORIES), n_items)
    colour = rng.integers(0, len(COLOURS), n_items)
    material = rng.integers(0, len(MATERIALS), n_items)
    titles = [
        f"{CATEGORIES[c][1]} {COLOURS[k]} – {MATERIALS[m]} n°{i}"
        for i, (c, k, m) in enumerate(zip(category, colour, material, strict=True))
    ]
    descriptions = [
        np.nan if rng.random() < 1 / 3 else f"{MATERIALS[m]}, teinte {COLOURS[k]} ✓"
        for k, m in zip(colour, material, strict=True)
    ]
    suffix = np.array(list("ABC"))[rng.integers(0, 3, n_items)]
    return pd.DataFrame(
        {
            "item_id": [f"SKU-{17 + 3 * i:05d}-{s}" for i, s in enumerate(suffix)],
            "title": titles,
            "description": descriptions,
            "price": np.round(rng.uniform(4.0, 120.0, n_items), 2),
            "category": [CATEGORIES[c][0] for c in category],
            "supplier": [f"atelier-{s}" for s in rng.integers(0, 5, n_items)],
            "colour": [COLOURS[k] for k in colour],
        }
    )


def _queries(catalog: pd.DataFrame, n_queries: int, rng: np.random.Generator) -> pd.DataFrame:
    """Distinct (category, colour) queries, each with the relevance of every item."""
    pairs = [(c, k) for c in range(len(CATEGORIES)) for k in range(len(COLOURS))]
    if n_queries > len(pairs):
        raise ValueError(f"at most {len(pairs)} queries")
    picked = rng.permutation(len(pairs))[:n_queries]
    rows = []
    for q, p in enumerate(picked):
        c, k = pairs[p]
        rows.append(
            {
                "query_id": f"Q{q:03d}",
                "query_text": f"{CATEGORIES[c][1].lower()} {COLOURS[k]}",
                "category": CATEGORIES[c][0],
                "colour": COLOURS[k],
            }
        )
    return pd.DataFrame(rows)


def _relevance(catalog: pd.DataFrame, query: pd.Series) -> np.ndarray:
    """float64 (n_items,): 1 for category and colour, 0.4 category only, 0.05 else."""
    same_category = (catalog["category"] == query["category"]).to_numpy()
    same_colour = (catalog["colour"] == query["colour"]).to_numpy()
    return np.where(same_category & same_colour, 1.0, np.where(same_category, 0.4, 0.05))


@dataclass
class _Session:
    """One session being written: its id, clock and rows."""

    session_id: str
    clock: pd.Timestamp
    rows: list[dict[str, object]]


def own_logs(catalog: pd.DataFrame, shape: LogShape, rng: np.random.Generator) -> pd.DataFrame:
    """Logged result pages of ``shape`` over ``catalog`` (module docstring)."""
    queries = _queries(catalog, shape.n_queries, rng)
    relevance = [_relevance(catalog, q) for _, q in queries.iterrows()]
    n_sessions = shape.n_queries if shape.one_session_per_query else shape.n_sessions
    popularity = 1.0 / np.arange(1, shape.n_queries + 1)
    start = pd.Timestamp("2024-03-01 08:00:00")
    rows: list[dict[str, object]] = []
    for s in range(n_sessions):
        if shape.one_session_per_query:
            q = s
        else:
            q = int(rng.choice(shape.n_queries, p=popularity / popularity.sum()))
        session = _Session(f"sess-{s:05d}", start + pd.Timedelta(minutes=7 * s), rows)
        _one_session(session, q, queries, relevance, catalog, shape, rng)
    frame = pd.DataFrame(rows)
    if not shape.purchases_column:
        frame = frame.drop(columns=["purchases"])
    if not shape.propensities:
        frame = frame.drop(columns=["propensities"])
    return frame


def _one_session(
    session: _Session,
    q: int,
    queries: pd.DataFrame,
    relevance: list[np.ndarray],
    catalog: pd.DataFrame,
    shape: LogShape,
    rng: np.random.Generator,
) -> None:
    """Append a session's pages: page on, reformulate (once) or stop."""
    reformulated = False
    page = 0
    ranking = _ranking(relevance[q], rng)
    while True:
        bought = _page(session, q, page, ranking, queries, relevance[q], catalog, shape, rng)
        if not bought and page < 2 and rng.random() < shape.second_page_rate:
            page += 1
            continue
        can_reformulate = shape.n_queries > 1 and not reformulated
        if not bought and can_reformulate and rng.random() < shape.reformulation_rate:
            reformulated = True
            q = int((q + 1 + rng.integers(0, shape.n_queries - 1)) % shape.n_queries)
            page = 0
            ranking = _ranking(relevance[q], rng)
            continue
        return


def _ranking(relevance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """int64 (3 * SLATE,): a noisy logging ranker's order (Gumbel noise on log relevance),
    so the same item lands at different positions in different sessions."""
    noisy = np.log(relevance) + rng.gumbel(size=relevance.shape[0]) * 0.7
    return np.argsort(-noisy, kind="stable")[: 3 * SLATE]


def _page(
    session: _Session,
    q: int,
    page: int,
    ranking: np.ndarray,
    queries: pd.DataFrame,
    relevance: np.ndarray,
    catalog: pd.DataFrame,
    shape: LogShape,
    rng: np.random.Generator,
) -> bool:
    """Append one result page; returns whether something was bought on it."""
    shown = ranking[page * SLATE : (page + 1) * SLATE]
    examination = 1.0 / (np.arange(page * SLATE, page * SLATE + len(shown)) + 1.0) ** 0.8
    clicks = rng.random(len(shown)) < examination * (0.1 + 0.7 * relevance[shown])
    if shape.rank1_clicks_only:
        clicks[1:] = False
    purchases = clicks & (rng.random(len(shown)) < shape.purchase_rate * relevance[shown])
    session.rows.append(
        {
            "session_id": session.session_id,
            "query_id": queries["query_id"].iloc[q],
            "query_text": queries["query_text"].iloc[q],
            "timestamp": session.clock,
            "item_ids": catalog["item_id"].to_numpy()[shown].tolist(),
            "clicks": clicks.astype(int).tolist(),
            "purchases": purchases.astype(int).tolist(),
            "propensities": np.full(len(shown), 0.5).tolist(),
            "page": page,
            "device": "phone" if rng.random() < 0.6 else "desktop",
        }
    )
    session.clock += pd.Timedelta(seconds=25)
    return bool(purchases.any())


@dataclass(frozen=True)
class OwnShop:
    """The files of a generated own shop."""

    catalog: Path
    logs: Path
    config: Path


def write_own_shop(
    folder: Path, shape: LogShape, seed: int = 0, n_items: int = 150, name: str | None = None
) -> OwnShop:
    """Write ``catalog.csv``, ``logs.parquet`` and ``myshop.yaml`` (a run config that
    points at them, relative to ``folder``) into ``folder``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    catalog = own_catalog(n_items, rng)
    logs = own_logs(catalog, shape, rng)
    catalog.to_csv(folder / "catalog.csv", index=False)
    logs.to_parquet(folder / "logs.parquet", index=False)
    config = folder / "myshop.yaml"
    config.write_text(
        f"name: {name or shape.name}\ndata:\n  catalog: catalog.csv\n  logs: logs.parquet\n",
        encoding="utf-8",
    )
    return OwnShop(folder / "catalog.csv", folder / "logs.parquet", config)
