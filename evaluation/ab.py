"""Simulated A/B tests: the same traffic through every arm, with common random numbers.

A session: a user (a type from ``UserModel.new_users``) types a query drawn from the
traffic; the arm ranks the query's candidates; the user sees page 1 (ranks
``0 .. slate_size - 1``), and after each page without a stop either opens the next page,
reformulates (a new query, ranked afresh, page 1 again) or leaves. Sessions are simulated
a batch at a time, all sessions of a batch advancing together one page per step.

**Common random numbers.** Each batch spawns two seeds: one for the traffic (queries and
user types, shared by all arms) and one for the users' draws. Every arm gets a fresh
generator from that second seed and calls ``sample_page`` and ``next_step`` on the *whole*
batch at every step (sessions that already ended are simulated and ignored), so the draws
of session ``i`` at step ``t`` are the same numbers in every arm: where two arms show the
same page, the user does the same thing, and the paired differences carry only the effect
of the rankings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from fusionrank import progress
from fusionrank.evaluation.config import EvaluationConfig
from fusionrank.evaluation.stats import LiftResult, paired_lifts
from fusionrank.evaluation.traffic import Ranker, Reformulator, RelevanceJudge, ndcg
from fusionrank.protocols import UserModel
from fusionrank.simulator.traffic import QuerySampler
from fusionrank.types import PAD

logger = logging.getLogger(__name__)

METRICS = ("purchases", "revenue", "clicks", "ctr", "abandoned", "ndcg")


@dataclass(frozen=True)
class SessionSettings:
    """How a simulated session runs.

    Args:
        slate_size: Results per page.
        max_pages: Pages a user may open per query.
        max_reformulations: Rewordings per session (0 without a reformulator).
        ndcg_k: nDCG cut-off on the first page.
        batch_size: Sessions simulated at once.
    """

    slate_size: int = 10
    max_pages: int = 3
    max_reformulations: int = 1
    ndcg_k: int = 10
    batch_size: int = 20_000

    def __post_init__(self) -> None:
        for name in ("slate_size", "max_pages", "ndcg_k", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)} must be >= 1")
        if self.max_reformulations < 0:
            raise ValueError(f"max_reformulations={self.max_reformulations} must be >= 0")

    @classmethod
    def from_config(cls, config: EvaluationConfig) -> SessionSettings:
        """The settings of the run configuration's ``evaluation`` section."""
        return cls(
            slate_size=config.slate_size,
            max_pages=config.max_pages,
            max_reformulations=config.max_reformulations,
            ndcg_k=config.ndcg_k,
            batch_size=config.batch_size,
        )


@dataclass(frozen=True, eq=False)
class SessionMetrics:
    """Per-session outcomes of one arm, each float64 of shape (n,).

    Args:
        purchases, revenue, clicks: Totals over the session's pages.
        ctr: ``clicks / items shown`` over the session.
        abandoned: 1.0 where the user left after a page without a click or a stop.
        ndcg: nDCG@k of the first page (NaN everywhere without a relevance judge).
        pages: Result pages seen.
    """

    purchases: np.ndarray
    revenue: np.ndarray
    clicks: np.ndarray
    ctr: np.ndarray
    abandoned: np.ndarray
    ndcg: np.ndarray
    pages: np.ndarray

    def __len__(self) -> int:
        return int(self.clicks.shape[0])

    @property
    def names(self) -> tuple[str, ...]:
        """The metrics this arm has values for (``ndcg`` only when judged)."""
        judged = bool(len(self)) and not np.isnan(self.ndcg).all()
        return tuple(m for m in METRICS if m != "ndcg" or judged)

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        """float64, shape (k, n): the named metrics stacked."""
        return np.stack([getattr(self, name) for name in names])

    def means(self) -> dict[str, float]:
        return {name: float(getattr(self, name).mean()) for name in (*self.names, "pages")}

    @classmethod
    def concatenate(cls, parts: Sequence[SessionMetrics]) -> SessionMetrics:
        names = (*METRICS, "pages")
        return cls(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})


def _page(ranked: np.ndarray, page: np.ndarray, slate_size: int) -> np.ndarray:
    """int64 (B, L): the items of each session's current page; PAD past the ranking."""
    offsets = page[:, None] * slate_size + np.arange(slate_size)
    inside = offsets < ranked.shape[1]
    items = np.take_along_axis(ranked, np.minimum(offsets, ranked.shape[1] - 1), axis=1)
    return np.where(inside, items, PAD)


def _ranked(ranker: Ranker, query_ids: np.ndarray, width: int | None = None) -> np.ndarray:
    ranked = np.asarray(ranker(query_ids))
    if ranked.ndim != 2 or ranked.shape[0] != len(query_ids) or ranked.dtype != np.int64:
        raise ValueError(
            f"a ranker must return int64 (B, R) item indices for B={len(query_ids)} queries, "
            f"got {ranked.dtype} {ranked.shape}"
        )
    if width is None or ranked.shape[1] == width:
        return ranked
    if ranked.shape[1] > width:
        return ranked[:, :width]
    return np.pad(ranked, ((0, 0), (0, width - ranked.shape[1])), constant_values=PAD)


def simulate_arm(
    user_model: UserModel,
    ranker: Ranker,
    query_ids: np.ndarray,
    users: np.ndarray,
    rng: np.random.Generator,
    settings: SessionSettings,
    reformulate: Reformulator | None = None,
    judge: RelevanceJudge | None = None,
) -> SessionMetrics:
    """Simulate one batch of sessions of one arm (see the module docstring).

    Args:
        user_model: The users (fitted simulator or hidden truth).
        ranker: The arm.
        query_ids: object, shape (B,): each session's first query.
        users: int64, shape (B,): user types.
        rng: The users' stream; give every arm a generator from the same seed.
        settings: Session settings.
        reformulate: The next query of a user who rewords; None disables rewording.
        judge: Graded relevance for nDCG; None leaves nDCG NaN.
    """
    queries = np.asarray(query_ids, dtype=object).copy()
    ranked = _ranked(ranker, queries)
    n, width = len(queries), ranked.shape[1]
    first_ndcg = _first_ndcg(judge, queries, ranked, settings.ndcg_k)
    totals = np.zeros((4, n))  # clicks, purchases, revenue, shown
    page, pages, reforms = (np.zeros(n, dtype=np.int64) for _ in range(3))
    active = np.ones(n, dtype=bool)
    abandoned = np.zeros(n, dtype=bool)
    max_reforms = settings.max_reformulations if reformulate is not None else 0
    for _ in range(settings.max_pages * (max_reforms + 1)):
        items = _page(ranked, page, settings.slate_size)
        feedback, stopped = user_model.sample_page(queries, items, users, rng)
        page_clicks = feedback.clicks.sum(axis=1)
        totals += active * np.stack(
            [page_clicks, feedback.purchases.sum(1), feedback.revenue.sum(1), (items >= 0).sum(1)]
        )
        pages += active
        next_first = _page(ranked, page + 1, settings.slate_size)[:, 0]
        can_page = (page + 1 < settings.max_pages) & (next_first >= 0)
        go_next, reform = user_model.next_step(can_page, reforms < max_reforms, rng)
        go_next &= ~stopped & active
        reform &= ~stopped & active
        ended = active & ~(go_next | reform)
        abandoned |= ended & ~stopped & (page_clicks == 0)
        active &= ~ended
        page = np.where(go_next, page + 1, np.where(reform, 0, page))
        if reform.any() and reformulate is not None:
            queries[reform] = reformulate(queries[reform])
            ranked[reform] = _ranked(ranker, queries[reform], width)
            reforms += reform
        if not active.any():
            break
    return _session_metrics(totals, abandoned, first_ndcg, pages)


def _first_ndcg(
    judge: RelevanceJudge | None, queries: np.ndarray, ranked: np.ndarray, k: int
) -> np.ndarray:
    """nDCG@k of each session's first ranking, NaN without a judge."""
    return ndcg(judge, queries, ranked, k) if judge is not None else np.full(len(queries), np.nan)


def _session_metrics(
    totals: np.ndarray, abandoned: np.ndarray, first_ndcg: np.ndarray, pages: np.ndarray
) -> SessionMetrics:
    """The per-session metrics of the summed clicks, purchases, revenue and shown items."""
    clicks, purchases, revenue, shown = totals
    return SessionMetrics(
        purchases=purchases,
        revenue=revenue,
        clicks=clicks,
        ctr=np.divide(clicks, shown, out=np.zeros(len(clicks)), where=shown > 0),
        abandoned=abandoned.astype(np.float64),
        ndcg=first_ndcg,
        pages=pages.astype(np.float64),
    )


def simulate_arms(
    user_model: UserModel,
    sampler: QuerySampler,
    arms: Sequence[Ranker],
    n_sessions: int,
    seed: int | np.random.SeedSequence,
    settings: SessionSettings = SessionSettings(),
    reformulate: Reformulator | None = None,
    judge: RelevanceJudge | None = None,
) -> tuple[SessionMetrics, ...]:
    """Simulate ``n_sessions`` sessions in every arm on the same traffic and draws.

    Args:
        user_model: The users.
        sampler: The traffic.
        arms: The rankers; session ``i`` of every arm has the same query and user.
        n_sessions: Sessions per arm.
        seed: Root seed of the traffic and the users' draws.
        settings: Session settings.
        reformulate: Next query of a user who rewords; None disables rewording.
        judge: Relevance judge for nDCG.

    Returns:
        One :class:`SessionMetrics` per arm, sessions in the same order.
    """
    if n_sessions < 1:
        raise ValueError(f"n_sessions={n_sessions} must be >= 1")
    if not arms:
        raise ValueError("give at least one arm")
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    starts = range(0, n_sessions, settings.batch_size)
    batches: list[list[SessionMetrics]] = [[] for _ in arms]
    with progress.task("A/B: sessions", total=n_sessions * len(arms)) as advance:
        for start, child in zip(starts, root.spawn(len(starts)), strict=True):
            size = min(settings.batch_size, n_sessions - start)
            traffic_seed, user_seed = child.spawn(2)
            traffic = np.random.default_rng(traffic_seed)
            query_ids = sampler.sample(size, traffic)
            users = user_model.new_users(size, traffic)
            for arm, ranker in enumerate(arms):
                draws = np.random.default_rng(user_seed)
                batches[arm].append(
                    simulate_arm(
                        user_model, ranker, query_ids, users, draws, settings, reformulate, judge
                    )
                )
                advance(size)
    return tuple(SessionMetrics.concatenate(parts) for parts in batches)


@dataclass(frozen=True, eq=False)
class ABRun:
    """A finished A/B: both arms' sessions and the lifts of B over A.

    Args:
        name_a, name_b: Arm labels.
        a, b: Per-session metrics, sessions paired by position.
        lifts: One result per metric, in ``METRICS`` order.
        seconds: Wall time of the simulation (not the statistics).
    """

    name_a: str
    name_b: str
    a: SessionMetrics
    b: SessionMetrics
    lifts: tuple[LiftResult, ...]
    seconds: float

    def lift(self, metric: str) -> LiftResult:
        for result in self.lifts:
            if result.metric == metric:
                return result
        raise KeyError(f"no lift for metric {metric!r}; have {[r.metric for r in self.lifts]}")


def run_ab(
    user_model: UserModel,
    sampler: QuerySampler,
    arm_a: Ranker,
    arm_b: Ranker,
    n_sessions: int,
    seed: int,
    *,
    names: tuple[str, str] = ("A", "B"),
    settings: SessionSettings = SessionSettings(),
    reformulate: Reformulator | None = None,
    judge: RelevanceJudge | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    n_bootstrap: int = 1000,
) -> ABRun:
    """Simulate a two-arm A/B and compute the paired lifts of every metric.

    The simulation uses the first child of ``SeedSequence(seed)``, the bootstrap the second.
    """
    sim_seed, boot_seed = np.random.SeedSequence(seed).spawn(2)
    started = time.perf_counter()
    a, b = simulate_arms(
        user_model, sampler, [arm_a, arm_b], n_sessions, sim_seed, settings, reformulate, judge
    )
    seconds = time.perf_counter() - started
    logger.info("A/B: %d sessions x 2 arms simulated in %.1f s", n_sessions, seconds)
    metric_names = a.names
    lifts = paired_lifts(
        a.matrix(metric_names),
        b.matrix(metric_names),
        metric_names,
        alpha=alpha,
        power=power,
        n_bootstrap=n_bootstrap,
        rng=np.random.default_rng(boot_seed),
    )
    return ABRun(names[0], names[1], a, b, lifts, seconds)
