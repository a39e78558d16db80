"""Users' responses: simulated feedback on result pages, logged pages, expected outcomes.

Re-exported by :mod:`fusionrank.types`, with the other typed objects the parts exchange.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusionrank.arrays import check_array as _check_array
from fusionrank.arrays import check_shape as _check_shape


@dataclass(frozen=True, eq=False)
class Feedback:
    """Users' responses to a batch of result pages.

    Args:
        item_index: int64, shape (B, L): the items shown, ``PAD`` at empty ranks.
        clicks: bool, shape (B, L).
        purchases: bool, shape (B, L): only where clicked.
        revenue: float64, shape (B, L): the price paid, 0 where not purchased.
        abandoned: bool, shape (B,): the user left the session after this page without
            clicking anything on it.
    """

    item_index: np.ndarray
    clicks: np.ndarray
    purchases: np.ndarray
    revenue: np.ndarray
    abandoned: np.ndarray

    def __post_init__(self) -> None:
        _check_array("item_index", self.item_index, np.int64, 2)
        shape = self.item_index.shape
        for name, dtype in (("clicks", np.bool_), ("purchases", np.bool_), ("revenue", np.float64)):
            array = getattr(self, name)
            _check_array(name, array, dtype, 2)
            _check_shape(name, array, shape)
        _check_array("abandoned", self.abandoned, np.bool_, 1)
        _check_shape("abandoned", self.abandoned, shape[:1])
        empty = self.item_index < 0
        if np.any(self.clicks & empty):
            raise ValueError("clicks: a click on an empty rank")
        if np.any(self.purchases & ~self.clicks):
            raise ValueError("purchases: a purchase without a click")
        if np.any((self.revenue != 0) & ~self.purchases):
            raise ValueError("revenue: non-zero revenue without a purchase")

    def __len__(self) -> int:
        return int(self.item_index.shape[0])


@dataclass(frozen=True, eq=False)
class LoggedPages:
    """Logged result pages as padded arrays, the input of click-model fitting and OPE.

    Built from a validated log table by :func:`fusionrank.datasets.logs_to_pages`.

    Args:
        session: int64, shape (N,): session number, in order of first appearance.
        query: int64, shape (N,): index into ``query_ids``.
        page: int64, shape (N,): 0-based result page within the query's results.
        item_index: int64, shape (N, L): items shown, ``PAD`` past each page's length.
        clicks: bool, shape (N, L).
        purchases: bool, shape (N, L).
        propensities: float64, shape (N, L): the logging policy's probability of showing
            that item at that position; NaN where unknown or padded.
        timestamp: float64, shape (N,): seconds since the epoch.
        query_ids: The distinct query ids, shape (n_queries,), object dtype.
        query_texts: Their texts, shape (n_queries,), object dtype.
        item_ids: Item id of each item index, shape (n_items,), object dtype.
        policy: The logging policy's name per page, shape (N,), object dtype.
        has_purchases: False when the log records no purchases (``purchases`` is then all
            False and means "unknown", not "none").
        has_propensities: False when no page records propensities.

    Column ``r`` of the (N, L) arrays is position ``r + 1`` on the page, so a log that
    records single impressions at position 3 has ``PAD`` in columns 0 and 1.
    """

    session: np.ndarray
    query: np.ndarray
    page: np.ndarray
    item_index: np.ndarray
    clicks: np.ndarray
    purchases: np.ndarray
    propensities: np.ndarray
    timestamp: np.ndarray
    query_ids: np.ndarray
    query_texts: np.ndarray
    item_ids: np.ndarray
    policy: np.ndarray
    has_purchases: bool = True
    has_propensities: bool = True

    def __post_init__(self) -> None:
        _check_array("item_index", self.item_index, np.int64, 2)
        n, width = self.item_index.shape
        for name in ("session", "query", "page"):
            _check_array(name, getattr(self, name), np.int64, 1)
            _check_shape(name, getattr(self, name), (n,))
        _check_array("timestamp", self.timestamp, np.float64, 1)
        _check_shape("timestamp", self.timestamp, (n,))
        for name, dtype in (
            ("clicks", np.bool_),
            ("purchases", np.bool_),
            ("propensities", np.float64),
        ):
            _check_array(name, getattr(self, name), dtype, 2)
            _check_shape(name, getattr(self, name), (n, width))
        _check_shape("policy", self.policy, (n,))
        if n and (self.query.min() < 0 or self.query.max() >= len(self.query_ids)):
            raise ValueError("query: index outside query_ids")
        if n and self.item_index.max() >= len(self.item_ids):
            raise ValueError("item_index: index outside item_ids")
        if np.any(self.purchases & ~self.clicks):
            raise ValueError("purchases: a purchase without a click")

    def __len__(self) -> int:
        return int(self.item_index.shape[0])

    @property
    def slate_size(self) -> int:
        return int(self.item_index.shape[1])

    @property
    def shown(self) -> np.ndarray:
        """bool, shape (N, L): True where an item was shown."""
        return self.item_index >= 0

    def subset(self, rows: np.ndarray) -> LoggedPages:
        """The pages at ``rows`` (a bool mask or int indices), same vocabularies."""
        return LoggedPages(
            session=self.session[rows],
            query=self.query[rows],
            page=self.page[rows],
            item_index=self.item_index[rows],
            clicks=self.clicks[rows],
            purchases=self.purchases[rows],
            propensities=self.propensities[rows],
            timestamp=self.timestamp[rows],
            query_ids=self.query_ids,
            query_texts=self.query_texts,
            item_ids=self.item_ids,
            policy=self.policy[rows],
            has_purchases=self.has_purchases,
            has_propensities=self.has_propensities,
        )


@dataclass(frozen=True, eq=False)
class ExpectedOutcomes:
    """Expected outcomes of result pages.

    Args:
        clicks, purchases, revenue: float64, shape (B, L): expectations per rank.
    """

    clicks: np.ndarray
    purchases: np.ndarray
    revenue: np.ndarray
