"""Logged bandit feedback for off-policy evaluation: one row per shown (page, slot, item).

A result page with L slots gives up to L rows that share a ``group`` (the page); the
bootstrap resamples whole pages, so the rows of a page stay together. Every row must carry
the logging policy's propensity of showing its item in its slot, in (0, 1].
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from fusionrank.datasets.errors import DataValidationError
from fusionrank.datasets.obd import OBDImpressions
from fusionrank.types import LoggedPages

logger = logging.getLogger(__name__)

PROPENSITY_FIX = (
    "every shown item needs the logging policy's probability of showing it at its "
    "position, in (0, 1]; log it at serving time, or estimate it from the logging "
    "policy before running OPE"
)


def check_propensities(
    propensity: np.ndarray, file: str = "logs", column: str = "propensity", rows=None
) -> None:
    """Raise for the first missing, non-positive or above-1 propensity.

    Args:
        propensity: float, shape (n,).
        file: Name used in the error.
        column: The column the values came from.
        rows: int64, shape (n,): the file row of each value (default ``arange(n)``).

    Raises:
        DataValidationError: Naming the file, row, column, value and the fix.
    """
    p = np.asarray(propensity, dtype=np.float64)
    rows = np.arange(p.shape[0]) if rows is None else np.asarray(rows)
    problems = (
        (np.isnan(p), "is missing (NaN)"),
        (p <= 0, "is {value}, but must be > 0: a shown item had some chance to be shown"),
        (p > 1, "is {value}, above 1: it is not a probability"),
        (~np.isfinite(p) & ~np.isnan(p), "is {value}, not a finite number"),
    )
    for bad, problem in problems:
        hits = np.flatnonzero(bad)
        if hits.size:
            at = int(hits[0])
            raise DataValidationError(
                file,
                problem.format(value=p[at]) + f" ({hits.size} such row(s))",
                PROPENSITY_FIX,
                row=int(rows[at]),
                column=column,
            )


class SlotLog(Protocol):
    """What target policies need of a log: the item, slot and page of every row (a
    :class:`BanditLog`, or impressions without propensities)."""

    @property
    def action(self) -> np.ndarray: ...

    @property
    def position(self) -> np.ndarray: ...

    @property
    def group(self) -> np.ndarray: ...

    @property
    def n_actions(self) -> int: ...

    @property
    def n_positions(self) -> int: ...

    @property
    def n_groups(self) -> int: ...

    def __len__(self) -> int: ...


@dataclass(frozen=True, eq=False)
class BanditLog:
    """Logged impressions with propensities.

    Args:
        reward: float64, shape (n,): e.g. the click (0/1) of the shown item.
        action: int64, shape (n,): the item shown, in ``[0, n_actions)``.
        position: int64, shape (n,): its slot, 0-based, in ``[0, n_positions)``.
        propensity: float64, shape (n,): the logging policy's probability of showing
            ``action`` at ``position`` given the context, in (0, 1].
        context: float64, shape (n, d): features of the user/query (d may be 0).
        group: int64, shape (n,): the page each row was shown on, in ``[0, n_groups)``.
        n_actions: Size of the action (item) vocabulary.
        n_positions: Slots per page.
        action_context: float64, shape (n_actions, d_a), or None: item features.
        source: Where the log came from, for messages.
    """

    reward: np.ndarray
    action: np.ndarray
    position: np.ndarray
    propensity: np.ndarray
    context: np.ndarray
    group: np.ndarray
    n_actions: int
    n_positions: int
    action_context: np.ndarray | None = None
    source: str = "logs"

    def __post_init__(self) -> None:
        n = self.reward.shape[0]
        for name, dtype in (
            ("reward", np.float64),
            ("action", np.int64),
            ("position", np.int64),
            ("propensity", np.float64),
            ("group", np.int64),
        ):
            array = getattr(self, name)
            if array.dtype != dtype or array.shape != (n,):
                raise ValueError(f"{name} must be {np.dtype(dtype)} of shape ({n},)")
        if self.context.ndim != 2 or self.context.shape[0] != n:
            raise ValueError(f"context must have shape ({n}, d), got {self.context.shape}")
        if n == 0:
            raise ValueError(f"{self.source}: no logged impressions to evaluate from")
        if self.action.min() < 0 or self.action.max() >= self.n_actions:
            raise ValueError(f"action must be in [0, n_actions={self.n_actions})")
        if self.position.min() < 0 or self.position.max() >= self.n_positions:
            raise ValueError(f"position must be in [0, n_positions={self.n_positions})")
        if self.group.min() < 0:
            raise ValueError("group must be >= 0")
        if not np.isfinite(self.reward).all():
            raise ValueError(f"{self.source}: rewards must be finite")
        if self.action_context is not None and self.action_context.shape[0] != self.n_actions:
            raise ValueError(f"action_context must have {self.n_actions} rows")
        check_propensities(self.propensity, self.source)

    def __len__(self) -> int:
        return int(self.reward.shape[0])

    @property
    def n_groups(self) -> int:
        return int(self.group.max()) + 1

    @property
    def binary_reward(self) -> bool:
        return bool(np.isin(self.reward, (0.0, 1.0)).all())

    def rows_of_groups(self, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the pages ``chosen`` (int64 (m,), repeats allowed), in that order.

        Returns:
            ``(rows, group)``: int64 (r,) row indices, and int64 (r,) new page numbers
            (page ``j`` is ``chosen[j]``, so a repeated page becomes a new page).
        """
        order = np.argsort(self.group, kind="stable")
        counts = np.bincount(self.group, minlength=self.n_groups)
        starts = np.r_[0, np.cumsum(counts)[:-1]]
        take = counts[chosen]
        offsets = np.arange(take.sum()) - np.repeat(np.cumsum(take) - take, take)
        rows = order[np.repeat(starts[chosen], take) + offsets]
        return rows, np.repeat(np.arange(len(chosen), dtype=np.int64), take)

    def take(self, rows: np.ndarray, group: np.ndarray) -> BanditLog:
        """The log of ``rows`` with new page numbers ``group`` (see :meth:`rows_of_groups`)."""
        return BanditLog(
            reward=self.reward[rows],
            action=self.action[rows],
            position=self.position[rows],
            propensity=self.propensity[rows],
            context=self.context[rows],
            group=group,
            n_actions=self.n_actions,
            n_positions=self.n_positions,
            action_context=self.action_context,
            source=self.source,
        )


def from_obd(impressions: OBDImpressions) -> BanditLog:
    """An Open Bandit Dataset file as a bandit log: each impression is its own page.

    Raises:
        DataValidationError: For a bad ``propensity_score``, naming the CSV row.
    """
    source = f"OBD {impressions.policy}/{impressions.campaign}"
    check_propensities(impressions.propensity, source, "propensity_score")
    n = len(impressions)
    return BanditLog(
        reward=impressions.click.astype(np.float64),
        action=impressions.item_index,
        position=impressions.position - 1,
        propensity=impressions.propensity,
        context=impressions.context,
        group=np.arange(n, dtype=np.int64),
        n_actions=impressions.n_items,
        n_positions=int(max(impressions.position.max(), 3)),
        action_context=impressions.action_context,
        source=source,
    )


def from_pages(pages: LoggedPages, reward: str = "clicks", source: str = "logs") -> BanditLog:
    """Logged result pages as a bandit log, one row per shown item.

    Args:
        pages: Pages from :func:`fusionrank.datasets.logs_to_pages`.
        reward: ``"clicks"`` or ``"purchases"``.
        source: The log file's name, for errors.

    Raises:
        ValueError: For an unknown reward, or logs without purchases asked for purchases.
        DataValidationError: For a missing or invalid propensity (names the page row and
            the ``propensities`` column).
    """
    if reward not in ("clicks", "purchases"):
        raise ValueError(f"reward={reward!r} is unknown; use 'clicks' or 'purchases'")
    if reward == "purchases" and not pages.has_purchases:
        raise ValueError(f"{source}: the logs record no purchases; use reward='clicks'")
    if not pages.has_propensities:
        raise DataValidationError(
            source, "no page records propensities", PROPENSITY_FIX, column="propensities"
        )
    rows, cols = np.nonzero(pages.shown)
    propensity = pages.propensities[rows, cols]
    check_propensities(propensity, source, "propensities", rows)
    values = pages.clicks if reward == "clicks" else pages.purchases
    return BanditLog(
        reward=values[rows, cols].astype(np.float64),
        action=pages.item_index[rows, cols],
        position=cols.astype(np.int64),
        propensity=propensity,
        context=np.zeros((len(rows), 0)),
        group=rows.astype(np.int64),
        n_actions=len(pages.item_ids),
        n_positions=pages.slate_size,
        source=source,
    )
