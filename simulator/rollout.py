"""Whole sessions replayed through a simulator, for the fidelity report.

Each simulated session starts from a logged session's first page. When the simulated
user opens the next page, they see a logged page of the same query at that page number
(drawn at random among the logs' pages); when they reformulate, they move to a query
that followed this one in a logged session (drawn from the logs' reformulations; the
same query again when it was never reformulated), and see one of its logged first pages.
All sessions advance together, one page per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusionrank.simulator.session import REFORMULATE, session_outcomes
from fusionrank.simulator.user_simulator import UserSimulator
from fusionrank.types import LoggedPages


@dataclass(frozen=True, eq=False)
class SessionStats:
    """Per-session outcomes, for logged or simulated sessions (arrays of shape (S,)).

    Args:
        pages: int64: result pages seen.
        reformulations: int64.
        clicks: int64: clicks over the session.
        purchases: int64.
        abandoned: bool: the last page had no click and no stop.
    """

    pages: np.ndarray
    reformulations: np.ndarray
    clicks: np.ndarray
    purchases: np.ndarray
    abandoned: np.ndarray

    def summary(self, max_pages: int = 6) -> dict[str, float | list[float]]:
        counts = np.bincount(np.minimum(self.pages, max_pages), minlength=max_pages + 1)
        return {
            "sessions": int(self.pages.shape[0]),
            "pages_per_session": float(self.pages.mean()),
            "session_length_share": (counts[1:] / max(counts.sum(), 1)).round(5).tolist(),
            "reformulation_rate": float((self.reformulations > 0).mean()),
            "clicks_per_session": float(self.clicks.mean()),
            "purchases_per_session": float(self.purchases.mean()),
            "abandonment_rate": float(self.abandoned.mean()),
        }


def logged_sessions(pages: LoggedPages) -> SessionStats:
    """The sessions of logged pages; a session is abandoned when its last page has no
    click."""
    outcomes = session_outcomes(pages)
    order = np.lexsort((np.arange(len(pages)), pages.timestamp, pages.session))
    session = pages.session[order]
    _, first, group = np.unique(session, return_index=True, return_inverse=True)
    last = np.r_[first[1:], len(order)] - 1
    clicks = pages.clicks[order].sum(axis=1)
    return SessionStats(
        pages=np.bincount(group).astype(np.int64),
        reformulations=np.bincount(group, outcomes.outcome[order] == REFORMULATE).astype(np.int64),
        clicks=np.bincount(group, clicks).astype(np.int64),
        purchases=np.bincount(group, pages.purchases[order].sum(axis=1)).astype(np.int64),
        abandoned=clicks[last] == 0,
    )


class _Groups:
    """Rows grouped by an int64 key, for drawing a random row of a key."""

    def __init__(self, keys: np.ndarray, values: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        self.values = values[order]
        self.keys, self.start, self.count = np.unique(
            keys[order], return_index=True, return_counts=True
        )

    def draw(self, keys: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A random value for each key (int64 (n,)); -1 where the key has none."""
        if len(self.keys) == 0:  # e.g. logs in which no session ever reformulated
            return np.full(keys.shape[0], -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = self.keys[at] == keys
        offset = (rng.random(keys.shape[0]) * self.count[at]).astype(np.int64)
        return np.where(found, self.values[self.start[at] + offset], -1)


def simulate_sessions(
    simulator: UserSimulator, pages: LoggedPages, rng: np.random.Generator
) -> SessionStats:
    """Replay the sessions of ``pages`` through the simulator (module docstring)."""
    outcomes = session_outcomes(pages, simulator.session.max_pages)
    max_pages = outcomes.max_pages
    query = simulator.query_index(pages.query_ids)[pages.query]
    pool = _Groups(query * max_pages + pages.page, np.arange(len(pages)))
    order = np.lexsort((np.arange(len(pages)), pages.timestamp, pages.session))
    same = pages.session[order][1:] == pages.session[order][:-1]
    moved = same & (outcomes.outcome[order][:-1] == REFORMULATE)
    hops = _Groups(query[order][:-1][moved], query[order][1:][moved])
    _, first = np.unique(pages.session[order], return_index=True)
    row = order[first]
    n = row.shape[0]
    q, page = query[row], pages.page[row].copy()
    stats = {k: np.zeros(n, np.int64) for k in ("pages", "reformulations", "clicks", "purchases")}
    abandoned = np.zeros(n, dtype=bool)
    active = np.ones(n, dtype=bool)
    limit = max_pages * (outcomes.max_reformulations + 1)
    for _ in range(limit):
        live = np.flatnonzero(active)
        if live.size == 0:
            break
        feedback, stopped = simulator.sample_page_index(q[live], pages.item_index[row[live]], rng)
        clicked = feedback.clicks.sum(axis=1)
        stats["pages"][live] += 1
        stats["clicks"][live] += clicked
        stats["purchases"][live] += feedback.purchases.sum(axis=1)
        next_row = pool.draw(q[live] * max_pages + page[live] + 1, rng)
        can_page = (page[live] + 1 < max_pages) & (next_row >= 0)
        can_ref = stats["reformulations"][live] < outcomes.max_reformulations
        go_next, reform = simulator.next_step(can_page, can_ref, rng)
        go_next &= ~stopped
        reform &= ~stopped
        new_q = hops.draw(q[live], rng)
        new_q = np.where(new_q >= 0, new_q, q[live])
        ref_row = pool.draw(new_q * max_pages, rng)
        reform &= ref_row >= 0
        ended = ~(go_next | reform)
        abandoned[live] = ended & ~stopped & (clicked == 0)
        row[live] = np.where(go_next, next_row, np.where(reform, ref_row, row[live]))
        page[live] = np.where(go_next, page[live] + 1, np.where(reform, 0, page[live]))
        q[live] = np.where(reform, new_q, q[live])
        stats["reformulations"][live] += reform
        active[live[ended]] = False
    return SessionStats(abandoned=abandoned, **stats)
