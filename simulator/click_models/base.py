"""What every click model shares: the protocol, pair tables, likelihoods and storage.

A click model is fitted on :class:`~fusionrank.types.LoggedPages`. Column ``r`` of the
page arrays is rank ``r`` (position ``r + 1``); ``PAD`` cells were not shown, are never
clicked and are left out of every count and likelihood.

Query-item parameters live in a :class:`PairTable`: one row per (query, item) pair seen in
the fitting logs, keyed by ``query * n_items + item`` (int64, sorted), so that a batch of
pairs is located with one ``np.searchsorted``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

import numpy as np
import pandas as pd

from fusionrank.io import atomic_path, write_json
from fusionrank.simulator.click_models.pages import Page
from fusionrank.types import PAD, LoggedPages

PROB_EPS = 1e-6
"""Conditional click probabilities are clipped to [PROB_EPS, 1 - PROB_EPS] in likelihoods."""


@dataclass(frozen=True, eq=False)
class Likelihood:
    """Held-out log-likelihood, conditional on the clicks above each rank.

    ``ll(c_r) = c_r ln p_r + (1 - c_r) ln(1 - p_r)`` with ``p_r = P(C_r = 1 | c_<r)``.

    Args:
        total: Sum of ``ll`` over all shown cells.
        mean: ``total`` divided by the number of shown cells.
        per_rank: float64, shape (L,): mean ``ll`` of the shown cells at each rank
            (NaN where no cell was shown).
        n_cells: int64, shape (L,): shown cells per rank.
    """

    total: float
    mean: float
    per_rank: np.ndarray
    n_cells: np.ndarray


@dataclass(frozen=True, eq=False)
class Perplexity:
    """Click perplexity: ``PP_r = 2 ** (-mean over pages of log2 P(C_r = c_r | c_<r))``.

    Args:
        per_rank: float64, shape (L,): ``PP_r`` (NaN where no cell was shown).
        mean: Mean of ``PP_r`` over ranks with shown cells (1 is perfect, 2 is a coin).
    """

    per_rank: np.ndarray
    mean: float


@dataclass(frozen=True, eq=False)
class PairParam:
    """A query-item parameter looked up for a batch of cells.

    Args:
        value: float64, shape (B, L): the model's (smoothed) estimate; its fallback where
            the pair was not seen.
        weight: float64, shape (B, L): the evidence behind it, e.g. the expected number
            of examinations of the pair in the fitting logs; 0 for unseen pairs.
    """

    value: np.ndarray
    weight: np.ndarray


@runtime_checkable
class ClickModel(Protocol):
    """A click model: fitted from logged pages, evaluated and sampled on any ranking.

    ``query`` arguments are int64 indices into the model's ``query_ids`` (``-1`` for a
    query it has not seen); ``item_index`` is int64 (B, L) into its ``item_ids``.
    """

    name: ClassVar[str]
    pair_param_names: ClassVar[tuple[str, ...]]

    def fit(self, pages: LoggedPages) -> Self: ...

    def log_likelihood(self, pages: LoggedPages) -> Likelihood: ...

    def perplexity(self, pages: LoggedPages) -> Perplexity: ...

    def click_probs(self, query: np.ndarray, item_index: np.ndarray) -> np.ndarray: ...

    def sample(
        self, query: np.ndarray, item_index: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray: ...

    def pair_params(self, query: np.ndarray, item_index: np.ndarray) -> dict[str, PairParam]: ...

    def page_from(self, params: dict[str, np.ndarray], shown: np.ndarray) -> Page: ...

    def save(self, folder: str | Path) -> None: ...


@dataclass(frozen=True, eq=False)
class PairTable:
    """The (query, item) pairs a model has parameters for.

    Args:
        keys: int64, shape (P,), sorted and unique: ``query * n_items + item``.
        n_items: Size of the item vocabulary the keys were built with.
    """

    keys: np.ndarray
    n_items: int

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def key(self, query: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        """int64, shape (B, L): pair keys; -1 where the query or item is unknown or PAD."""
        query = np.asarray(query, dtype=np.int64)[:, None]
        valid = (query >= 0) & (item_index >= 0) & (item_index < self.n_items)
        return np.where(valid, query * self.n_items + item_index, -1)

    def locate(self, query: np.ndarray, item_index: np.ndarray) -> np.ndarray:
        """Rows of the pairs, int64 shape (B, L); -1 for pairs without parameters.

        Args:
            query: int64, shape (B,).
            item_index: int64, shape (B, L).
        """
        keys = self.key(query, item_index)
        if len(self) == 0:
            return np.full(keys.shape, -1, dtype=np.int64)
        rows = np.minimum(np.searchsorted(self.keys, keys), len(self) - 1)
        return np.where((self.keys[rows] == keys) & (keys >= 0), rows, -1).astype(np.int64)

    @classmethod
    def from_pages(cls, pages: LoggedPages) -> tuple[PairTable, np.ndarray]:
        """The table of every shown pair, and each cell's row (int64 (N, L), -1 at PAD)."""
        n_items = len(pages.item_ids)
        shown = pages.shown
        keys = np.where(shown, pages.query[:, None] * n_items + pages.item_index, -1)
        unique, inverse = np.unique(keys[shown], return_inverse=True)
        rows = np.full(keys.shape, -1, dtype=np.int64)
        rows[shown] = inverse
        return cls(keys=unique.astype(np.int64), n_items=n_items), rows


def smoothed(numerator: np.ndarray, denominator: np.ndarray, prior: tuple[float, float]):
    """``(prior_clicks + numerator) / (prior_views + denominator)``, float64 like the input.

    The prior's pseudo-counts (default one click in two views) keep estimates for rarely
    shown pairs away from 0 and 1, as PyClick's parameters do.
    """
    return (prior[0] + numerator) / (prior[1] + denominator)


def previous_click(clicks: np.ndarray) -> np.ndarray:
    """int64, shape (N, L): 1 + rank of the last click above each rank, 0 when none.

    Args:
        clicks: bool, shape (N, L).
    """
    n_ranks = clicks.shape[1]
    marks = np.where(clicks, np.arange(1, n_ranks + 1), 0)
    running = np.maximum.accumulate(marks, axis=1)
    return np.concatenate([np.zeros((clicks.shape[0], 1), np.int64), running[:, :-1]], axis=1)


def cell_log_likelihood(probs: np.ndarray, clicks: np.ndarray) -> np.ndarray:
    """ln P(C = c) per cell for click probabilities clipped to [PROB_EPS, 1 - PROB_EPS].

    Args:
        probs: float64, shape (N, L): ``P(C_r = 1 | c_<r)``.
        clicks: bool, shape (N, L).
    """
    p = np.clip(probs, PROB_EPS, 1 - PROB_EPS)
    return np.where(clicks, np.log(p), np.log1p(-p))


def summarize_likelihood(cell_ll: np.ndarray, shown: np.ndarray) -> tuple[Likelihood, Perplexity]:
    """Likelihood and perplexity from per-cell natural-log likelihoods (float64 (N, L))."""
    n_cells = shown.sum(axis=0).astype(np.int64)
    sums = np.where(shown, cell_ll, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_rank = np.where(n_cells > 0, sums / np.maximum(n_cells, 1), np.nan)
    total = float(sums.sum())
    likelihood = Likelihood(
        total=total, mean=total / max(int(n_cells.sum()), 1), per_rank=per_rank, n_cells=n_cells
    )
    per_rank_pp = 2.0 ** (-per_rank / np.log(2.0))
    mean_pp = float(np.nanmean(per_rank_pp)) if np.any(n_cells > 0) else float("nan")
    return likelihood, Perplexity(per_rank=per_rank_pp, mean=mean_pp)


def check_pages(pages: LoggedPages, what: str) -> None:
    """Reject pages a click model cannot use.

    Raises:
        ValueError: If there are no pages, no shown cells, or a click on an empty rank.
    """
    if len(pages) == 0:
        raise ValueError(f"{what}: the logs hold no result pages; give logs with pages")
    shown = pages.shown
    if not shown.any():
        raise ValueError(f"{what}: no page shows any item; check the logs' item_ids")
    bad = pages.clicks & ~shown
    if bad.any():
        row, rank = np.argwhere(bad)[0]
        raise ValueError(
            f"{what}: page {row} has a click at position {rank + 1}, where no item was"
            " shown; fix the logs' clicks lists"
        )


class Vocabulary:
    """Maps another log's query and item indices into a fitted model's vocabularies."""

    def __init__(self, query_ids: np.ndarray, item_ids: np.ndarray) -> None:
        self.query_ids = np.asarray(query_ids, dtype=object)
        self.item_ids = np.asarray(item_ids, dtype=object)

    @cached_property
    def _queries(self) -> pd.Index:
        return pd.Index(self.query_ids.astype(str))

    @cached_property
    def _items(self) -> pd.Index:
        return pd.Index(self.item_ids.astype(str))

    def queries(self, query_ids: np.ndarray) -> np.ndarray:
        """int64 indices of query ids (object (n,)); -1 for unknown ones."""
        return self._queries.get_indexer(pd.Index(np.asarray(query_ids).astype(str))).astype(
            np.int64
        )

    def map_pages(self, pages: LoggedPages) -> tuple[np.ndarray, np.ndarray]:
        """The pages' query (int64 (N,)) and item_index (int64 (N, L)) in this vocabulary."""
        if _same(pages.query_ids, self.query_ids):
            query = pages.query
        else:
            query = self.queries(pages.query_ids)[pages.query]
        if _same(pages.item_ids, self.item_ids):
            return query, pages.item_index
        items = self._items.get_indexer(pd.Index(pages.item_ids.astype(str))).astype(np.int64)
        mapped = np.where(pages.shown, items[np.maximum(pages.item_index, 0)], PAD)
        # Unknown items stay shown (they get fallback parameters), with an index past the end.
        return query, np.where(pages.shown & (mapped < 0), len(self.item_ids), mapped)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a is b or (a.shape == b.shape and bool(np.all(a == b)))


def save_arrays(folder: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write ``meta.json`` and ``params.npz`` into ``folder``, each atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    # Object arrays (ids) are stored as strings, so loading never needs pickle.
    plain: dict[str, Any] = {
        k: v.astype(str) if v.dtype == object else v for k, v in arrays.items()
    }
    with atomic_path(folder / "params.npz") as tmp, tmp.open("wb") as handle:
        np.savez(handle, **plain)
    write_json(folder / "meta.json", meta)


def load_arrays(folder: Path, expected: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read what :func:`save_arrays` wrote, checking the model's name.

    Raises:
        ValueError: If the folder holds no click model, or another one.
    """
    if not (folder / "meta.json").is_file():
        raise ValueError(f"{folder} holds no click model (meta.json is missing)")
    meta = json.loads((folder / "meta.json").read_text())
    if meta.get("name") != expected:
        raise ValueError(f"{folder} holds a {meta.get('name')!r} model, not {expected!r}")
    with np.load(folder / "params.npz", allow_pickle=False) as data:
        arrays = {
            key: data[key].astype(object) if data[key].dtype.kind == "U" else data[key]
            for key in data.files
        }
    return meta, arrays
