"""Rankers defined by tables: a score per (query, candidate), or a random order of the pool.

They give the A/B runner and the off-policy CLI policies to compare before the trained
policies exist, and they are the baselines after: the logging system's own order, an
oracle order, a uniformly random order.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.types import PAD, LoggedPages

logger = logging.getLogger(__name__)


def _query_rows(query_index: pd.Index, query_ids: np.ndarray) -> np.ndarray:
    rows = query_index.get_indexer(pd.Index(np.asarray(query_ids, dtype=object)))
    if np.any(rows < 0):
        unknown = np.asarray(query_ids, dtype=object)[rows < 0][:5]
        raise ValueError(
            f"{int((rows < 0).sum())} query id(s) have no candidates in the table, e.g. "
            f"{list(unknown)}; add them to the table or sample only known queries"
        )
    return rows.astype(np.int64)


@dataclass(frozen=True, eq=False)
class ScoreTable:
    """A ranker that sorts each query's candidates by a fixed score (best first).

    Args:
        query_ids: object, shape (Q,).
        items: int64, shape (Q, P): candidate item indices per query, ``PAD`` padded.
        scores: float64, shape (Q, P): their scores (ignored at ``PAD``).
        name: A label for reports.
    """

    query_ids: np.ndarray
    items: np.ndarray
    scores: np.ndarray
    name: str = "scores"
    _ranked: np.ndarray = field(init=False, repr=False)
    _index: pd.Index = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.items.shape != self.scores.shape or self.items.ndim != 2:
            raise ValueError(f"items {self.items.shape} and scores {self.scores.shape} differ")
        if self.items.shape[0] != self.query_ids.shape[0]:
            raise ValueError("items must have one row per query id")
        key = np.where(self.items >= 0, -np.nan_to_num(self.scores, nan=-np.inf), np.inf)
        order = np.lexsort((self.items, key), axis=1)
        object.__setattr__(self, "_ranked", np.take_along_axis(self.items, order, axis=1))
        object.__setattr__(self, "_index", pd.Index(self.query_ids))

    def __call__(self, query_ids: np.ndarray) -> np.ndarray:
        """int64, shape (B, P): each query's candidates, best score first, PAD last."""
        return self._ranked[_query_rows(self._index, query_ids)]

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, item_ids: np.ndarray, name: str = "scores"
    ) -> ScoreTable:
        """Build from a table with columns ``query_id``, ``item_id`` and ``score``.

        Args:
            frame: One row per (query, candidate).
            item_ids: object, shape (n_items,): the item vocabulary (index -> id).
            name: A label for reports.

        Raises:
            ValueError: For a missing column, an unknown item id or a non-finite score.
        """
        for column in ("query_id", "item_id", "score"):
            if column not in frame.columns:
                raise ValueError(
                    f"score table: column {column!r} is missing; give one row per "
                    "(query_id, item_id) with its score"
                )
        vocabulary = pd.Index(np.asarray(item_ids).astype(str))
        items = vocabulary.get_indexer(frame["item_id"].astype(str))
        if np.any(items < 0):
            row = int(np.flatnonzero(items < 0)[0])
            raise ValueError(
                f"score table: row {row}, column 'item_id': {frame['item_id'].iloc[row]!r} is "
                "not an item of the logs or catalog; drop the row or fix the id"
            )
        scores = frame["score"].to_numpy(np.float64)
        if not np.isfinite(scores).all():
            row = int(np.flatnonzero(~np.isfinite(scores))[0])
            raise ValueError(f"score table: row {row}, column 'score' is not finite; fix it")
        queries = frame["query_id"].astype(str).to_numpy(object)
        codes, uniques = pd.factorize(queries)
        slot = pd.Series(np.arange(len(frame))).groupby(codes).cumcount().to_numpy()
        width = int(slot.max()) + 1 if len(frame) else 1
        table_items = np.full((len(uniques), width), PAD, dtype=np.int64)
        table_scores = np.zeros((len(uniques), width))
        table_items[codes, slot] = items
        table_scores[codes, slot] = scores
        return cls(np.asarray(uniques, dtype=object), table_items, table_scores, name)

    @classmethod
    def from_score_file(cls, path: str | Path, item_ids: np.ndarray) -> ScoreTable:
        """Read a parquet or CSV score table (see :meth:`from_frame`)."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"score file {path} does not exist; pass a .parquet or .csv file")
        frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
        return cls.from_frame(frame, item_ids, name=path.stem)


@dataclass(frozen=True, eq=False)
class ShuffledPool:
    """A ranker that shows each query's candidate pool in a uniformly random order.

    Args:
        query_ids: object, shape (Q,).
        items: int64, shape (Q, P): the pools, ``PAD`` padded.
        rng: Its own seeded stream (a draw per call, never the users' stream).
        name: A label for reports.
    """

    query_ids: np.ndarray
    items: np.ndarray
    rng: np.random.Generator
    name: str = "random"
    _index: pd.Index = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", pd.Index(self.query_ids))

    def __call__(self, query_ids: np.ndarray) -> np.ndarray:
        """int64, shape (B, P): a fresh random order of each query's pool, PAD last."""
        pools = self.items[_query_rows(self._index, query_ids)]
        key = np.where(pools >= 0, self.rng.random(pools.shape), 2.0)
        return np.take_along_axis(pools, np.argsort(key, axis=1), axis=1)


def logged_pools(pages: LoggedPages) -> tuple[np.ndarray, np.ndarray]:
    """Every item the logs showed for each query: its candidate pool.

    Returns:
        ``(query_ids, items)``: object (Q,) and int64 (Q, P), ``PAD`` padded, items of a
        query in increasing index order.
    """
    shown = pages.item_index >= 0
    query = np.repeat(pages.query, pages.item_index.shape[1])[shown.ravel()]
    items = pages.item_index[shown]
    pairs = np.unique(np.stack([query, items], axis=1), axis=0)
    counts = np.bincount(pairs[:, 0], minlength=len(pages.query_ids))
    start = np.r_[0, np.cumsum(counts)[:-1]]
    slot = np.arange(len(pairs)) - start[pairs[:, 0]]
    table = np.full((len(pages.query_ids), max(int(counts.max()), 1)), PAD, dtype=np.int64)
    table[pairs[:, 0], slot] = pairs[:, 1]
    keep = counts > 0
    return np.asarray(pages.query_ids, dtype=object)[keep], table[keep]
