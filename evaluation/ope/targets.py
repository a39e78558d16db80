"""Target policies: what the policy under evaluation would show at each logged impression.

A :class:`TargetPolicy` holds, for every row of a log (:class:`~.data.SlotLog`),

* the policy's distribution over items at that row's slot (sparse: C candidate items and
  their probabilities), which the direct method and doubly robust need, and
* the probability that the policy puts the row's *logged* item at every slot, which the
  importance weights need (IPS uses the row's own slot, PBM-IPS all slots).

Builders cover a uniformly random policy, a fixed ranking per page (a score table), and
any :class:`fusionrank.protocols.RankingPolicy` applied to each logged page's candidates.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from fusionrank.evaluation.ope.data import SlotLog
from fusionrank.evaluation.rankers import ScoreTable
from fusionrank.protocols import RankingPolicy
from fusionrank.types import PAD, CandidateBatch, Rankings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class TargetPolicy:
    """The target policy's probabilities at each logged row.

    Args:
        actions: int64, shape (n, C): candidate items at the row's slot, ``PAD`` allowed.
        probs: float64, shape (n, C): ``pi(actions[i, c] at position_i | x_i)``; rows sum
            to at most 1 (less when the policy may leave the slot empty).
        position_probs: float64, shape (n, K): ``pi(logged action_i at slot j | x_i)`` for
            every slot j.
        name: A label for reports.
    """

    actions: np.ndarray
    probs: np.ndarray
    position_probs: np.ndarray
    name: str

    def __post_init__(self) -> None:
        if self.actions.shape != self.probs.shape or self.actions.ndim != 2:
            raise ValueError(f"actions {self.actions.shape} and probs {self.probs.shape} differ")
        if self.position_probs.shape[0] != self.actions.shape[0]:
            raise ValueError("position_probs must have one row per logged row")
        for name in ("probs", "position_probs"):
            values = getattr(self, name)
            if np.any(values < 0) or np.any(values > 1 + 1e-9) or not np.isfinite(values).all():
                raise ValueError(f"target {self.name}: {name} must be probabilities in [0, 1]")
        if np.any(self.probs.sum(axis=1) > 1 + 1e-6):
            raise ValueError(f"target {self.name}: probabilities at a slot sum above 1")

    def __len__(self) -> int:
        return int(self.actions.shape[0])

    def logged_prob(self, log: SlotLog) -> np.ndarray:
        """float64, shape (n,): ``pi(a_i at k_i | x_i)`` of each logged row."""
        self.check(log)
        return self.position_probs[np.arange(len(log)), log.position]

    def check(self, log: SlotLog) -> None:
        if len(self) != len(log) or self.position_probs.shape[1] != log.n_positions:
            raise ValueError(
                f"target {self.name} covers {len(self)} rows x {self.position_probs.shape[1]}"
                f" slots, the log has {len(log)} rows x {log.n_positions} slots"
            )

    def take(self, rows: np.ndarray) -> TargetPolicy:
        """The rows at ``rows`` (int64, repeats allowed)."""
        return TargetPolicy(
            self.actions[rows], self.probs[rows], self.position_probs[rows], self.name
        )


def uniform_target(
    log: SlotLog, candidates: np.ndarray | None = None, name: str = "uniform"
) -> TargetPolicy:
    """A policy that shows a uniformly random candidate at every slot.

    Args:
        log: The logged rows.
        candidates: int64, shape (n, C): each row's candidate items, ``PAD`` padded; None
            means every item (``pi = 1 / n_actions``, the Random policy of the Open Bandit
            Dataset).
        name: A label.
    """
    n = len(log)
    if candidates is None:
        n_actions = log.n_actions
        actions = np.broadcast_to(np.arange(n_actions, dtype=np.int64), (n, n_actions))
        probs = np.broadcast_to(np.full(n_actions, 1.0 / n_actions), (n, n_actions))
        return TargetPolicy(actions, probs, np.full((n, log.n_positions), 1.0 / n_actions), name)
    if candidates.shape[0] != n:
        raise ValueError(f"candidates must have one row per logged row ({n})")
    real = candidates >= 0
    count = np.maximum(real.sum(axis=1), 1)
    probs = real / count[:, None]
    listed = (candidates == log.action[:, None]).any(axis=1)
    at_slot = np.where(listed, 1.0 / count, 0.0)
    return TargetPolicy(
        candidates, probs, np.repeat(at_slot[:, None], log.n_positions, axis=1), name
    )


def ranking_target(log: SlotLog, ranked: np.ndarray, name: str) -> TargetPolicy:
    """A deterministic policy: page ``g`` would show ``ranked[g]`` (best first).

    Args:
        log: The logged rows.
        ranked: int64, shape (n_groups, R): the item the policy puts at each slot of each
            logged page, ``PAD`` where it shows nothing.
        name: A label.

    Returns:
        ``pi(a at k) = 1`` for the item the ranking puts at slot k.
    """
    if ranked.ndim != 2 or ranked.shape[0] < log.n_groups:
        raise ValueError(f"ranked must be (n_groups={log.n_groups}, R), got {ranked.shape}")
    width = log.n_positions
    if ranked.shape[1] < width:
        ranked = np.pad(ranked, ((0, 0), (0, width - ranked.shape[1])), constant_values=PAD)
    page = ranked[log.group, :width]  # (n, K)
    at_slot = page[np.arange(len(log)), log.position]
    position_probs = ((page == log.action[:, None]) & (page >= 0)).astype(np.float64)
    return TargetPolicy(
        actions=at_slot[:, None],
        probs=(at_slot >= 0).astype(np.float64)[:, None],
        position_probs=position_probs,
        name=name,
    )


def score_table_target(log: SlotLog, table: ScoreTable, group_query: np.ndarray) -> TargetPolicy:
    """A score table's ranking of each logged page's query, as a target policy.

    Args:
        log: The logged rows.
        table: Ranks each query's candidates by score.
        group_query: object, shape (n_groups,): the query id of each logged page.
    """
    return ranking_target(log, table(group_query), table.name)


def ranking_policy_target(
    policy: RankingPolicy, candidates: CandidateBatch, log: SlotLog
) -> TargetPolicy:
    """A :class:`~fusionrank.protocols.RankingPolicy` re-ranking each logged page's
    candidates, as a target policy (the hook for trained policies).

    Args:
        policy: The policy; its :meth:`scores` rank the candidates, padding never ranks.
        candidates: One row per logged page (row ``g`` holds page ``g``'s candidates, in
            the order of ``log.group``); ``item_index`` is in the log's item vocabulary.
        log: The logged rows.
    """
    if len(candidates) < log.n_groups:
        raise ValueError(
            f"candidates has {len(candidates)} rows; give one per logged page ({log.n_groups})"
        )
    scores = np.asarray(policy.scores(candidates), dtype=np.float64)
    slate = min(log.n_positions, candidates.k)
    items = Rankings.from_scores(scores, candidates.mask, slate).items(candidates)
    return ranking_target(log, items, policy.name)
