"""The value of rankings in one fitted simulator or an ensemble of them, without noise.

A ranking policy trained in the simulator needs ``R(query, ranking)``: the expected reward
of a user browsing the ranking (:func:`~fusionrank.envs.browse.expected_browse`). With an
ensemble of simulators fitted on resamples of the logs (:mod:`fusionrank.simulator.
ensemble`) each member gives its own value; their spread is the simulator's uncertainty
about the ranking, and the pessimistic value

    R_k = mean_e R_e - k * std_e R_e

(MOPO-style, Yu et al. 2020) is what a policy trained with ``k > 0`` maximises: it is
monotone non-increasing in ``k`` and equal to the mean at ``k = 0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fusionrank.envs.browse import expected_browse
from fusionrank.envs.config import EnvConfig
from fusionrank.simulator.user_simulator import UserSimulator


def pessimistic(values: np.ndarray, k: float) -> np.ndarray:
    """``mean - k * std`` over the members (axis 0) of float64 (E, ...) values.

    Raises:
        ValueError: If ``k`` is negative.
    """
    if k < 0:
        raise ValueError(f"pessimism k={k} must be >= 0 (0: the ensemble mean)")
    values = np.asarray(values, dtype=np.float64)
    if values.shape[0] == 1 or k == 0:
        return values.mean(axis=0)
    return values.mean(axis=0) - k * values.std(axis=0)


@dataclass(frozen=True, eq=False)
class SimulatorValue:
    """Expected rewards of rankings under each member of a simulator ensemble.

    Args:
        members: E fitted simulators (one for a plain simulator).
        sim_query: int64, shape (E, Q): each query row's index in each member.
        config: Pages, slate size and reward weights of the envs.
    """

    members: tuple[UserSimulator, ...]
    sim_query: np.ndarray
    config: EnvConfig

    def __post_init__(self) -> None:
        if not self.members:
            raise ValueError("a simulator value needs at least one simulator")
        if self.sim_query.ndim != 2 or self.sim_query.shape[0] != len(self.members):
            raise ValueError(
                f"sim_query must be (E, Q) with E = {len(self.members)}, got {self.sim_query.shape}"
            )

    @classmethod
    def build(
        cls,
        members: Sequence[UserSimulator],
        query_ids: np.ndarray,
        query_texts: np.ndarray,
        config: EnvConfig,
    ) -> SimulatorValue:
        """Register the Q queries with every member and keep their indices."""
        rows = []
        for member in members:
            member.add_queries(query_ids, query_texts)
            rows.append(member.query_index(query_ids))
        return cls(tuple(members), np.stack(rows), config)

    @property
    def n_members(self) -> int:
        return len(self.members)

    def values(self, rows: np.ndarray, ranked: np.ndarray) -> np.ndarray:
        """float64, shape (E, B): every member's expected reward.

        Args:
            rows: int64, shape (B,): query rows.
            ranked: int64, shape (B, R): item indices best first, ``PAD`` after the last.
        """
        weights = self.config.reward_weights()
        return np.stack(
            [
                expected_browse(member, self.sim_query[e, rows], ranked, self.config).reward(
                    weights
                )
                for e, member in enumerate(self.members)
            ]
        )

    def __call__(self, rows: np.ndarray, ranked: np.ndarray, k: float = 0.0) -> np.ndarray:
        """float64, shape (B,): the pessimistic value ``mean - k * std`` of each ranking."""
        return pessimistic(self.values(rows, ranked), k)
