"""Users browsing a ranking: pages through the fitted simulator, and the reward.

A ranking is shown ``slate_size`` results a page. After a page on which the user did not
stop (buy or be satisfied) the simulator's session model decides whether they open the
next page; the bandit envs do not reformulate (a user who would reword leaves).

:func:`browse` samples one user per ranking; :func:`expected_browse` gives the exact mean
of the same process (``envs.reward_mode = "expected"``)::

    E[total] = sum_p reach_p * E[outcome on page p],
    reach_0 = 1,  reach_{p+1} = reach_p * (1 - P(stop on page p)) * p_next * [page p+1 exists]

which removes the Bernoulli noise of the users from the reward (the policy's own
exploration is then its only noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusionrank.envs.components import EnvComponents
from fusionrank.envs.config import EnvConfig
from fusionrank.simulator.user_simulator import UserSimulator
from fusionrank.types import PAD

OUTCOMES = ("clicks", "purchases", "revenue", "pages")
SLOT_BITS = 16
NAN_KEY = np.int32(0x7F800001)
"""Sort key of a NaN score: above +inf's (0x7F800000), so below every real score."""
PAD_KEY = np.int32(0x7FFFFFFF)
"""Sort key of a masked slot: after everything."""


@dataclass(frozen=True, eq=False)
class PageOutcomes:
    """Totals per env, float64 (B,) each: clicks, purchases, revenue and pages seen."""

    clicks: np.ndarray
    purchases: np.ndarray
    revenue: np.ndarray
    pages: np.ndarray

    def reward(self, weights: tuple[float, float, float]) -> np.ndarray:
        """float64 (B,): ``w_p * purchases + w_r * revenue + w_c * clicks``."""
        w_p, w_r, w_c = weights
        return w_p * self.purchases + w_r * self.revenue + w_c * self.clicks

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in OUTCOMES}


def rank_slots(scores: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Candidate slots by descending score, int64 (B, K); masked slots come last.

    Args:
        scores: float, shape (B, K), compared as float32 (the action space's dtype).
            NaN ranks below every real score.
        mask: bool, shape (B, K).

    Ties keep the lower slot first, i.e. the first-stage order. Each key packs the
    score's order-preserving integer image (float32 bits, negatives' magnitude bits
    flipped) above the 16-bit slot, so one plain integer sort gives the stable order.
    """
    k = scores.shape[1]
    if k > 1 << SLOT_BITS:
        raise ValueError(f"K={k} candidate slots is more than {1 << SLOT_BITS}; lower envs.k")
    negated = -np.asarray(scores, dtype=np.float32) + np.float32(0.0)  # -0.0 -> 0.0
    bits = negated.view(np.int32)
    bits = np.where(bits < 0, bits ^ 0x7FFFFFFF, bits)
    bits = np.where(np.isnan(negated), NAN_KEY, bits)
    bits = np.where(mask, bits, PAD_KEY)
    packed = (bits.astype(np.int64) << SLOT_BITS) | np.arange(k, dtype=np.int64)
    return np.sort(packed, axis=1) & ((1 << SLOT_BITS) - 1)


def ranked_items(items: np.ndarray, mask: np.ndarray, order: np.ndarray) -> np.ndarray:
    """int64 (B, K): item indices in ranked order, ``PAD`` after the real candidates."""
    shown = np.take_along_axis(mask, order, axis=1)
    return np.where(shown, np.take_along_axis(items, order, axis=1), PAD)


def page_items(ranked: np.ndarray, page: np.ndarray, slate_size: int) -> np.ndarray:
    """int64 (B, L): ranks ``page * L .. page * L + L - 1`` of each ranking, ``PAD`` past it."""
    offsets = page[:, None] * slate_size + np.arange(slate_size)
    inside = offsets < ranked.shape[1]
    items = np.take_along_axis(ranked, np.minimum(offsets, ranked.shape[1] - 1), axis=1)
    return np.where(inside, items, PAD)


def browse(
    components: EnvComponents, rows: np.ndarray, ranked: np.ndarray, rng: np.random.Generator
) -> PageOutcomes:
    """Simulate each env's user on its ranking, page after page (module docstring).

    Args:
        components: The prepared parts (simulator, config).
        rows: int64, shape (B,): pool rows (queries).
        ranked: int64, shape (B, R): item indices best first, ``PAD`` after the last.
        rng: The users' stream.
    """
    config = components.config
    n = rows.shape[0]
    totals = np.zeros((4, n))
    live = np.arange(n)
    page = np.zeros(n, dtype=np.int64)
    no_reformulation = np.zeros(n, dtype=bool)
    for _ in range(config.max_pages):
        items = page_items(ranked[live], page[live], config.slate_size)
        feedback, stopped = components.simulator.sample_page_index(
            components.sim_query[rows[live]], items, rng
        )
        totals[:, live] += np.stack(
            [
                feedback.clicks.sum(axis=1),
                feedback.purchases.sum(axis=1),
                feedback.revenue.sum(axis=1),
                np.ones(live.size),
            ]
        )
        after = page_items(ranked[live], page[live] + 1, 1)[:, 0]
        can_page = (page[live] + 1 < config.max_pages) & (after >= 0)
        go_next, _ = components.simulator.next_step(can_page, no_reformulation[live], rng)
        keep = go_next & ~stopped
        page[live] += 1
        live = live[keep]
        if live.size == 0:
            break
    return PageOutcomes(*totals)


def expected_browse(
    simulator: UserSimulator, sim_query: np.ndarray, ranked: np.ndarray, config: EnvConfig
) -> PageOutcomes:
    """The exact expectation of :func:`browse` (module docstring); ``pages`` is the
    expected number of pages seen.

    Args:
        simulator: The users.
        sim_query: int64, shape (B,): each ranking's query index in the simulator.
        ranked: int64, shape (B, R): item indices best first, ``PAD`` after the last.
        config: Slate size and pages.
    """
    n = ranked.shape[0]
    totals = np.zeros((4, n))
    reach = np.ones(n)
    page = np.zeros(n, dtype=np.int64)
    p_next = simulator.session.p_next
    for number in range(config.max_pages):
        live = np.flatnonzero(reach > 0)
        if live.size == 0:
            break
        items = page_items(ranked[live], page[live], config.slate_size)
        expected, stopped = simulator.expected_page_index(sim_query[live], items)
        at = reach[live]
        totals[:, live] += at * np.stack(
            [
                expected.clicks.sum(axis=1),
                expected.purchases.sum(axis=1),
                expected.revenue.sum(axis=1),
                np.ones(live.size),
            ]
        )
        after = page_items(ranked[live], page[live] + 1, 1)[:, 0]
        can_page = (number + 1 < config.max_pages) & (after >= 0)
        reach[live] = at * (1.0 - stopped) * np.where(can_page, p_next, 0.0)
        page[live] += 1
    return PageOutcomes(*totals)
