"""Typed objects that the parts of fusionrank exchange.

Every object is a frozen dataclass whose arrays are checked for dtype and shape in
``__post_init__``. Items are referred to in two ways:

* an **item id** is the catalog's own identifier (a string, as the user's files have it);
* an **item index** is the int64 row of that item in the :class:`Catalog` (or in a log's
  item vocabulary when no catalog exists). Hot paths use indices; ``-1`` marks padding.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fusionrank.arrays import PAD
from fusionrank.arrays import check_array as _check_array
from fusionrank.arrays import check_shape as _check_shape
from fusionrank.feedback import ExpectedOutcomes, Feedback, LoggedPages

__all__ = [
    "PAD",
    "CandidateBatch",
    "CandidateList",
    "Catalog",
    "ExpectedOutcomes",
    "Feedback",
    "LoggedPages",
    "Query",
    "Rankings",
]


@dataclass(frozen=True)
class Query:
    """A search query.

    Args:
        query_id: The query's identifier in the logs.
        text: The query string the user typed; must not be blank.
    """

    query_id: str
    text: str

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"Query {self.query_id!r}: text is empty; give the query string")


@dataclass(frozen=True, eq=False)
class Catalog:
    """A validated product catalog.

    Args:
        table: One row per item with at least ``item_id`` (str, unique) and ``title`` (str);
            optional ``description``, ``image_path``, ``price``, ``category`` and extra
            attribute columns. Build it with :func:`fusionrank.datasets.load_catalog`,
            which validates the file.
        root: Folder that relative ``image_path`` values are resolved against.
    """

    table: pd.DataFrame
    root: Path
    _index: pd.Index = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for column in ("item_id", "title"):
            if column not in self.table.columns:
                raise ValueError(f"catalog: column {column!r} is missing")
        index = pd.Index(self.table["item_id"].astype(str))
        if not index.is_unique:
            raise ValueError("catalog: column 'item_id' has duplicate values")
        object.__setattr__(self, "_index", index)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def item_ids(self) -> np.ndarray:
        """Item ids, object dtype, shape (n_items,)."""
        return self._index.to_numpy()

    @property
    def has_images(self) -> bool:
        return "image_path" in self.table.columns

    def image_paths(self) -> list[Path]:
        """Absolute image paths, in catalog order."""
        if not self.has_images:
            raise ValueError("catalog has no 'image_path' column; the image modality is off")
        return [self.root / str(p) for p in self.table["image_path"]]

    def index_of(self, item_ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Map item ids to item indices.

        Args:
            item_ids: Item ids, shape (n,).

        Returns:
            int64 array of shape (n,).

        Raises:
            ValueError: If an id is not in the catalog; the message lists the first ones.
        """
        ids = np.asarray(item_ids).astype(str)
        positions = self._index.get_indexer(pd.Index(ids))
        unknown = ids[positions < 0]
        if unknown.size:
            shown = ", ".join(repr(u) for u in unknown[:5])
            raise ValueError(
                f"{unknown.size} item id(s) are not in the catalog: {shown}; "
                "add them to the catalog or drop them from the request"
            )
        return positions.astype(np.int64)


@dataclass(frozen=True, eq=False)
class CandidateList:
    """The first-stage candidates for one query.

    Args:
        query: The query.
        item_index: int64, shape (K,): catalog item indices; ``PAD`` where ``mask`` is False.
        modality_scores: float32, shape (K, M): each candidate's score in each modality.
        features: float32, shape (K, F): the feature matrix for re-ranking.
        mask: bool, shape (K,): True for real candidates, False for padding.
        modality_names: M names, e.g. ``("text", "image")``.
        feature_names: F names.
    """

    query: Query
    item_index: np.ndarray
    modality_scores: np.ndarray
    features: np.ndarray
    mask: np.ndarray
    modality_names: tuple[str, ...]
    feature_names: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_array("item_index", self.item_index, np.int64, 1)
        k = self.item_index.shape[0]
        _check_array("modality_scores", self.modality_scores, np.float32, 2)
        _check_shape("modality_scores", self.modality_scores, (k, len(self.modality_names)))
        _check_array("features", self.features, np.float32, 2)
        _check_shape("features", self.features, (k, len(self.feature_names)))
        _check_array("mask", self.mask, np.bool_, 1)
        _check_shape("mask", self.mask, (k,))
        if np.any(self.item_index[self.mask] < 0):
            raise ValueError("item_index must be >= 0 where mask is True")

    def __len__(self) -> int:
        return int(self.item_index.shape[0])


@dataclass(frozen=True, eq=False)
class CandidateBatch:
    """B candidate lists padded to the same K, for batched simulation.

    Args:
        queries: B queries.
        item_index: int64, shape (B, K); ``PAD`` where ``mask`` is False.
        modality_scores: float32, shape (B, K, M).
        features: float32, shape (B, K, F).
        mask: bool, shape (B, K).
        modality_names: M names.
        feature_names: F names.
    """

    queries: tuple[Query, ...]
    item_index: np.ndarray
    modality_scores: np.ndarray
    features: np.ndarray
    mask: np.ndarray
    modality_names: tuple[str, ...]
    feature_names: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_array("item_index", self.item_index, np.int64, 2)
        b, k = self.item_index.shape
        if len(self.queries) != b:
            raise ValueError(f"queries has {len(self.queries)} entries for a batch of {b}")
        _check_array("modality_scores", self.modality_scores, np.float32, 3)
        _check_shape("modality_scores", self.modality_scores, (b, k, len(self.modality_names)))
        _check_array("features", self.features, np.float32, 3)
        _check_shape("features", self.features, (b, k, len(self.feature_names)))
        _check_array("mask", self.mask, np.bool_, 2)
        _check_shape("mask", self.mask, (b, k))
        if np.any(self.item_index[self.mask] < 0):
            raise ValueError("item_index must be >= 0 where mask is True")

    def __len__(self) -> int:
        return int(self.item_index.shape[0])

    @property
    def k(self) -> int:
        return int(self.item_index.shape[1])

    def __getitem__(self, row: int) -> CandidateList:
        return CandidateList(
            query=self.queries[row],
            item_index=self.item_index[row],
            modality_scores=self.modality_scores[row],
            features=self.features[row],
            mask=self.mask[row],
            modality_names=self.modality_names,
            feature_names=self.feature_names,
        )

    @classmethod
    def from_lists(cls, lists: Sequence[CandidateList], k: int | None = None) -> CandidateBatch:
        """Stack candidate lists, padding each to ``k`` (default: the longest list).

        Raises:
            ValueError: If the lists disagree on modality or feature names, or one is
                longer than ``k``.
        """
        if not lists:
            raise ValueError("from_lists needs at least one candidate list")
        first = lists[0]
        k = max(len(c) for c in lists) if k is None else k
        n_mod, n_feat = len(first.modality_names), len(first.feature_names)
        item_index = np.full((len(lists), k), PAD, dtype=np.int64)
        scores = np.zeros((len(lists), k, n_mod), dtype=np.float32)
        features = np.zeros((len(lists), k, n_feat), dtype=np.float32)
        mask = np.zeros((len(lists), k), dtype=bool)
        for row, cands in enumerate(lists):
            if (cands.modality_names, cands.feature_names) != (
                first.modality_names,
                first.feature_names,
            ):
                raise ValueError(f"candidate list {row} has other modality or feature names")
            n = len(cands)
            if n > k:
                raise ValueError(f"candidate list {row} has {n} candidates, more than k={k}")
            item_index[row, :n] = cands.item_index
            scores[row, :n] = cands.modality_scores
            features[row, :n] = cands.features
            mask[row, :n] = cands.mask
        return cls(
            queries=tuple(c.query for c in lists),
            item_index=item_index,
            modality_scores=scores,
            features=features,
            mask=mask,
            modality_names=first.modality_names,
            feature_names=first.feature_names,
        )


@dataclass(frozen=True, eq=False)
class Rankings:
    """A batch of rankings over candidate slots.

    Args:
        order: int64, shape (B, L): ``order[b, r]`` is the candidate slot (an index into
            the K axis of a :class:`CandidateBatch`) shown at rank ``r`` (0-based), or
            ``PAD`` when fewer than L real candidates exist. Real slots come first and
            never repeat within a row.
    """

    order: np.ndarray

    def __post_init__(self) -> None:
        _check_array("order", self.order, np.int64, 2)
        real = self.order >= 0
        # Once a rank is empty, every later rank is empty too.
        if np.any(~real[:, :-1] & real[:, 1:]):
            raise ValueError("order: a PAD rank is followed by a real slot")
        sorted_order = np.sort(np.where(real, self.order, -np.arange(1, self.order.shape[1] + 1)))
        if np.any(sorted_order[:, 1:] == sorted_order[:, :-1]):
            raise ValueError("order: a candidate slot appears twice in one ranking")

    @property
    def slate_size(self) -> int:
        return int(self.order.shape[1])

    @classmethod
    def from_scores(cls, scores: np.ndarray, mask: np.ndarray, slate_size: int) -> Rankings:
        """Rank candidates by descending score; masked slots never reach a slate.

        Args:
            scores: float, shape (B, K).
            mask: bool, shape (B, K).
            slate_size: L, the number of ranks kept (1 <= L <= K).

        Ties keep the lower slot first (a stable sort), so equal scores keep the
        candidates' first-stage order. NaN scores rank below every real score.
        """
        if scores.shape != mask.shape or scores.ndim != 2:
            raise ValueError(f"scores {scores.shape} and mask {mask.shape} must be equal (B, K)")
        if not 1 <= slate_size <= scores.shape[1]:
            raise ValueError(f"slate_size must be in [1, K={scores.shape[1]}], got {slate_size}")
        # Masked slots sort after every real one; NaN scores sort last among real ones.
        keyed = np.nan_to_num(-np.asarray(scores, dtype=np.float64), nan=np.inf)
        keyed = np.where(mask, keyed, np.inf)
        order = np.lexsort((keyed, ~mask), axis=1)[:, :slate_size].astype(np.int64)
        shown = np.take_along_axis(mask, order, axis=1)
        return cls(order=np.where(shown, order, PAD))

    def items(self, candidates: CandidateBatch) -> np.ndarray:
        """The item indices shown, int64 shape (B, L), ``PAD`` at empty ranks."""
        safe = np.maximum(self.order, 0)
        shown = np.take_along_axis(candidates.item_index, safe, axis=1)
        return np.where(self.order >= 0, shown, PAD)
