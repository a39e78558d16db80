"""Team-draft interleaving of two rankers, batched over sessions (Radlinski et al., 2008).

For each session the two rankings are merged into one result page: while ranks remain, the
team with fewer picks so far picks next (a fair coin decides a tie, i.e. at the start of
every round), and it adds its highest-ranked item not already on the page. Each click is
credited to the team that placed the item; a session is won by the team with more credited
clicks and tied otherwise. The arrays are vectorised over sessions; the only Python loop is
over the ranks of the page.

The per-session preference ``p_i = sign(clicks_B - clicks_A)`` in {-1, 0, 1} has mean
``Delta`` (B's net win share). Detecting ``Delta`` with a two-sided test at ``alpha`` and
``power`` needs ``n = (z_{1-alpha/2} + z_{power})² Var(p) / Delta²`` sessions, which
:func:`sessions_comparison` sets beside an A/B's requirement for the lift it measured.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import stats

from fusionrank import progress
from fusionrank.evaluation.power import Design, sample_size
from fusionrank.evaluation.traffic import Ranker
from fusionrank.protocols import UserModel
from fusionrank.simulator.traffic import QuerySampler
from fusionrank.types import PAD

logger = logging.getLogger(__name__)

TEAM_A, TEAM_B, NO_TEAM = 0, 1, -1


@dataclass(frozen=True, eq=False)
class Interleaved:
    """Interleaved result pages.

    Args:
        item_index: int64, shape (B, L): the merged page, ``PAD`` where both rankings ran out.
        team: int8, shape (B, L): ``TEAM_A`` (0), ``TEAM_B`` (1) or ``NO_TEAM`` (-1) at PAD.
    """

    item_index: np.ndarray
    team: np.ndarray


def _first_unused(ranking: np.ndarray, used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's highest-ranked item not yet used: (items (B,), found (B,))."""
    free = (ranking >= 0) & ~used
    at = np.argmax(free, axis=1)
    found = free[np.arange(ranking.shape[0]), at]
    return np.where(found, ranking[np.arange(ranking.shape[0]), at], PAD), found


def team_draft(
    ranking_a: np.ndarray, ranking_b: np.ndarray, slate_size: int, rng: np.random.Generator
) -> Interleaved:
    """Interleave two rankings per session with team-draft.

    Args:
        ranking_a: int64, shape (B, La): A's items best first, ``PAD`` past its end.
        ranking_b: int64, shape (B, Lb): B's items.
        slate_size: L, ranks of the merged page.
        rng: Seeded stream for the coin flips, (B, L) uniforms drawn at once.

    Returns:
        The merged pages and the team of each rank.
    """
    if ranking_a.ndim != 2 or ranking_b.ndim != 2 or ranking_a.shape[0] != ranking_b.shape[0]:
        raise ValueError(
            f"rankings must be (B, L) with the same B, got {ranking_a.shape} and {ranking_b.shape}"
        )
    if slate_size < 1:
        raise ValueError(f"slate_size={slate_size} must be >= 1")
    n = ranking_a.shape[0]
    coins = rng.random((n, slate_size)) < 0.5
    used_a = np.zeros(ranking_a.shape, dtype=bool)
    used_b = np.zeros(ranking_b.shape, dtype=bool)
    picks = np.zeros((n, 2), dtype=np.int64)
    items = np.full((n, slate_size), PAD, dtype=np.int64)
    team = np.full((n, slate_size), NO_TEAM, dtype=np.int8)
    for r in range(slate_size):
        next_a, has_a = _first_unused(ranking_a, used_a)
        next_b, has_b = _first_unused(ranking_b, used_b)
        a_turn = (picks[:, 0] < picks[:, 1]) | ((picks[:, 0] == picks[:, 1]) & coins[:, r])
        take_a = has_a & (a_turn | ~has_b)
        take_b = has_b & ~take_a
        chosen = np.where(take_a, next_a, np.where(take_b, next_b, PAD))
        items[:, r] = chosen
        team[:, r] = np.where(take_a, TEAM_A, np.where(take_b, TEAM_B, NO_TEAM))
        picks[:, 0] += take_a
        picks[:, 1] += take_b
        placed = chosen[:, None]
        used_a |= (ranking_a == placed) & (placed >= 0)
        used_b |= (ranking_b == placed) & (placed >= 0)
    return Interleaved(item_index=items, team=team)


def credit(team: np.ndarray, clicks: np.ndarray) -> np.ndarray:
    """Clicks credited to each team: int64, shape (B, 2) (columns A, B).

    Args:
        team: int8, shape (B, L) from :func:`team_draft`.
        clicks: bool, shape (B, L).
    """
    return np.stack(
        [(clicks & (team == TEAM_A)).sum(axis=1), (clicks & (team == TEAM_B)).sum(axis=1)],
        axis=1,
    ).astype(np.int64)


@dataclass(frozen=True)
class InterleavingResult:
    """Who won the interleaved sessions.

    Args:
        n: Sessions.
        wins_a, wins_b, ties: Session counts (a session without clicks is a tie).
        win_rate: ``wins_b / (wins_a + wins_b)`` (NaN without decided sessions).
        win_rate_ci: Wilson interval of ``win_rate`` at ``1 - alpha``.
        p_value: Two-sided exact binomial test of ``win_rate == 0.5``.
        preference: ``(wins_b - wins_a) / n``, the mean per-session preference.
        preference_sd: Standard deviation of the per-session preference (in {-1, 0, 1}).
        alpha: The level.
    """

    n: int
    wins_a: int
    wins_b: int
    ties: int
    win_rate: float
    win_rate_ci: tuple[float, float]
    p_value: float
    preference: float
    preference_sd: float
    alpha: float


def preferences(credits: np.ndarray) -> np.ndarray:
    """Per-session preference ``sign(credit_B - credit_A)``, int64 shape (B,)."""
    return np.sign(credits[:, 1] - credits[:, 0]).astype(np.int64)


def summarize(credits: np.ndarray, alpha: float = 0.05) -> InterleavingResult:
    """Win counts, the win rate of B with its interval, and the per-session preference.

    Args:
        credits: int, shape (B, 2) from :func:`credit`.
        alpha: Two-sided level.
    """
    pref = preferences(credits)
    wins_a, wins_b = int((pref < 0).sum()), int((pref > 0).sum())
    decided = wins_a + wins_b
    if decided:
        test = stats.binomtest(wins_b, decided, 0.5)
        ci = test.proportion_ci(confidence_level=1 - alpha, method="wilson")
        win_rate, interval, p_value = wins_b / decided, (ci.low, ci.high), test.pvalue
    else:
        win_rate, interval, p_value = float("nan"), (float("nan"), float("nan")), 1.0
    return InterleavingResult(
        n=int(pref.shape[0]),
        wins_a=wins_a,
        wins_b=wins_b,
        ties=int(pref.shape[0]) - decided,
        win_rate=float(win_rate),
        win_rate_ci=(float(interval[0]), float(interval[1])),
        p_value=float(p_value),
        preference=float(pref.mean()),
        preference_sd=float(pref.std(ddof=1)) if pref.shape[0] > 1 else 0.0,
        alpha=alpha,
    )


@dataclass(frozen=True)
class SessionsComparison:
    """Sessions each method needs to detect the effect it measured, at the same level.

    Args:
        ab_sessions: Sessions per arm an A/B needs for its measured lift.
        ab_design: ``"two-sample"`` (a live test) or ``"paired"``.
        interleaving_sessions: Interleaved sessions needed for the measured preference.
        ratio: ``ab_sessions / interleaving_sessions`` (how many times more the A/B needs
            per arm).
    """

    ab_sessions: int
    ab_design: Design
    interleaving_sessions: int
    ratio: float


def sessions_comparison(
    ab_effect: float,
    ab_sd: float,
    preference: float,
    preference_sd: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    ab_design: Design = "two-sample",
) -> SessionsComparison:
    """How many sessions interleaving needs to detect a lift that the A/B needs N for.

    Args:
        ab_effect: The A/B's measured absolute lift on its metric (e.g. clicks per session).
        ab_sd: Per-session standard deviation of that metric (of the difference if paired).
        preference: Interleaving's measured mean preference (``InterleavingResult``).
        preference_sd: Its per-session standard deviation.

    Raises:
        ValueError: If either effect is 0 (nothing to detect).
    """
    if ab_effect == 0 or preference == 0:
        raise ValueError(
            f"both effects must be non-zero to size a test, got ab_effect={ab_effect}, "
            f"preference={preference}"
        )
    ab_n = sample_size(ab_effect, ab_sd, alpha=alpha, power=power, design=ab_design)
    il_n = sample_size(preference, preference_sd, alpha=alpha, power=power, design="paired")
    return SessionsComparison(
        ab_sessions=ab_n, ab_design=ab_design, interleaving_sessions=il_n, ratio=ab_n / il_n
    )


def simulate_interleaving(
    user_model: UserModel,
    sampler: QuerySampler,
    arm_a: Ranker,
    arm_b: Ranker,
    n_sessions: int,
    seed: int | np.random.SeedSequence,
    *,
    slate_size: int = 10,
    batch_size: int = 20_000,
) -> np.ndarray:
    """Team-draft interleave two rankers on simulated traffic (one result page a session).

    Args:
        user_model: The users.
        sampler: The traffic.
        arm_a, arm_b: The rankers.
        n_sessions: Sessions.
        seed: Root seed; each batch spawns streams for traffic, coins and users.
        slate_size: Ranks of the merged page.
        batch_size: Sessions simulated at once.

    Returns:
        int64, shape (n_sessions, 2): clicks credited to A and to B per session.
    """
    if n_sessions < 1:
        raise ValueError(f"n_sessions={n_sessions} must be >= 1")
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    starts = range(0, n_sessions, batch_size)
    parts = []
    with progress.task("interleaving: sessions", total=n_sessions) as advance:
        for start, child in zip(starts, root.spawn(len(starts)), strict=True):
            size = min(batch_size, n_sessions - start)
            traffic, coins, draws = (np.random.default_rng(s) for s in child.spawn(3))
            query_ids = sampler.sample(size, traffic)
            users = user_model.new_users(size, traffic)
            merged = team_draft(arm_a(query_ids), arm_b(query_ids), slate_size, coins)
            feedback, _ = user_model.sample_page(query_ids, merged.item_index, users, draws)
            parts.append(credit(merged.team, feedback.clicks))
            advance(size)
    return np.concatenate(parts)
