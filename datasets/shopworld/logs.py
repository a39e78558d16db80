"""ShopWorld's logs: the hidden users' sessions under a stochastic logging policy.

The logging policy is the shop's text search (:mod:`.lexical`): for each query it keeps
the ``candidate_pool`` best items and samples a Plackett-Luce ranking with log-weights
``score / temperature``. Each page logs the exact marginal propensity of every shown item
at its rank (:func:`.plackett_luce.marginals`). All sessions advance together, one page
per step, so the simulation is a handful of batched steps, not a loop over sessions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fusionrank.datasets.shopworld.plackett_luce import sample_rankings
from fusionrank.datasets.shopworld.truth import HiddenTruth

POLICY_NAME = "shopworld-text-pl"
_START = np.datetime64("2026-01-01T00:00:00", "ms")
_DAYS = 30
P_FIRST_VARIANT = 0.6


@dataclass(frozen=True, eq=False)
class LoggingPolicy:
    """The logging policy's candidate pools and propensities, per query.

    Args:
        pool: int64, shape (n_queries, P): candidate items, best text score first.
        log_weights: float64, shape (n_queries, P): Plackett-Luce log-weights.
        marginals: float64, shape (n_queries, P, R): P(pool item at rank r).
    """

    pool: np.ndarray
    log_weights: np.ndarray
    marginals: np.ndarray


@dataclass
class _Pages:
    session: list[np.ndarray]
    step: list[np.ndarray]
    query: list[np.ndarray]
    page: list[np.ndarray]
    items: list[np.ndarray]
    clicks: list[np.ndarray]
    purchases: list[np.ndarray]
    propensities: list[np.ndarray]

    def cat(self, name: str) -> np.ndarray:
        return np.concatenate(getattr(self, name))


def _query_of(truth: HiddenTruth) -> np.ndarray:
    """int64, shape (n_needs, n_variants): the query index of each wording of each need."""
    n_variants = int(truth.query_variant.max()) + 1
    query_of = np.full((len(truth.needs), n_variants), -1, dtype=np.int64)
    query_of[truth.query_need, truth.query_variant] = np.arange(truth.n_queries)
    return query_of


def _first_queries(truth: HiddenTruth, need: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    query_of = _query_of(truth)
    n_variants = query_of.shape[1]
    variant = np.where(
        rng.random(need.shape[0]) < P_FIRST_VARIANT,
        0,
        rng.integers(0, n_variants, size=need.shape[0]),
    )
    return query_of[need, variant]


def _reformulated(truth: HiddenTruth, query: np.ndarray) -> np.ndarray:
    """The next wording of the same need."""
    query_of = _query_of(truth)
    next_variant = (truth.query_variant[query] + 1) % query_of.shape[1]
    return query_of[truth.query_need[query], next_variant]


def simulate_sessions(
    truth: HiddenTruth,
    policy: LoggingPolicy,
    n_pages: int,
    slate_size: int,
    max_pages: int,
    rng: np.random.Generator,
) -> pa.Table:
    """Simulate sessions until ``n_pages`` result pages are logged.

    Returns:
        The log table in fusionrank's log schema (one row per result page), ordered by
        session and time.
    """
    n_sessions = n_pages  # every session shows at least one page
    need = rng.choice(len(truth.needs), size=n_sessions, p=truth.needs.frequency)
    query = _first_queries(truth, need, rng)
    segment = truth.new_users(n_sessions, rng)
    n_ranks = slate_size * max_pages
    ranking = sample_rankings(policy.log_weights[query], n_ranks, rng)
    page = np.zeros(n_sessions, dtype=np.int64)
    reformulated = np.zeros(n_sessions, dtype=bool)
    can_reformulate = truth.query_variant.max() > 0
    active = np.ones(n_sessions, dtype=bool)
    pages = _Pages([], [], [], [], [], [], [], [])
    ranks = np.arange(slate_size)
    for step in range(2 * max_pages):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        q, first = query[rows], page[rows][:, None] * slate_size
        pool_position = np.take_along_axis(ranking[rows], first + ranks, axis=1)
        items = np.take_along_axis(policy.pool[q], pool_position, axis=1)
        feedback, stopped = truth.sample_page_index(q, items, segment[rows], rng)
        pages.session.append(rows)
        pages.step.append(np.full(rows.size, step))
        pages.query.append(q)
        pages.page.append(page[rows])
        pages.items.append(items)
        pages.clicks.append(feedback.clicks)
        pages.purchases.append(feedback.purchases)
        pages.propensities.append(policy.marginals[q[:, None], pool_position, first + ranks])
        next_page, reformulate = truth.next_step(
            page[rows] + 1 < max_pages, ~reformulated[rows] & can_reformulate, rng
        )
        next_page &= ~stopped
        reformulate &= ~stopped
        page[rows[next_page]] += 1
        moved = rows[reformulate]
        query[moved] = _reformulated(truth, query[moved])
        ranking[moved] = sample_rankings(policy.log_weights[query[moved]], n_ranks, rng)
        page[moved] = 0
        reformulated[moved] = True
        active[rows[~(next_page | reformulate)]] = False
    return _to_table(truth, pages, n_pages, n_sessions, rng)


def _to_table(
    truth: HiddenTruth, pages: _Pages, n_pages: int, n_sessions: int, rng: np.random.Generator
) -> pa.Table:
    session, step = pages.cat("session"), pages.cat("step")
    order = np.lexsort((step, session))[:n_pages]
    session, step = session[order], step[order]
    start = np.sort(rng.integers(0, _DAYS * 86_400_000, size=n_sessions))
    gaps = rng.integers(5_000, 90_000, size=(n_sessions, 2 * (int(step.max()) + 1)))
    offset = np.cumsum(gaps, axis=1) - gaps[:, :1]
    timestamp = _START + (start[session] + offset[session, step]).astype("timedelta64[ms]")
    items = pages.cat("items")[order]
    slate_size = items.shape[1]
    offsets = pa.array(np.arange(0, (len(order) + 1) * slate_size, slate_size, dtype=np.int32))
    query = pages.cat("query")[order]

    def lists(values: np.ndarray) -> pa.ListArray:
        return pa.ListArray.from_arrays(offsets, pa.array(values.ravel()))

    return pa.table(
        {
            "session_id": pa.array(np.char.add("s", np.char.zfill(session.astype(str), 7))),
            "query_id": pa.array(truth.query_ids[query].astype(str)),
            "query_text": pa.array(truth.query_texts[query].astype(str)),
            "timestamp": pa.array(timestamp, type=pa.timestamp("ms", tz="UTC")),
            "item_ids": lists(item_ids(len(truth.items))[items]),
            "clicks": lists(pages.cat("clicks")[order]),
            "purchases": lists(pages.cat("purchases")[order]),
            "propensities": lists(pages.cat("propensities")[order]),
            "page": pa.array(pages.cat("page")[order]),
            "policy": pa.array(np.full(len(order), POLICY_NAME)),
        }
    )


def item_ids(n_items: int) -> np.ndarray:
    """ShopWorld's item ids, ``SW000000`` onwards, shape (n_items,)."""
    return np.char.add("SW", np.char.zfill(np.arange(n_items).astype(str), 6))
