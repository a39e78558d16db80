"""Team-draft interleaving: the merge's invariants, credit, win rate, and its sensitivity
against an A/B on ShopWorld's hidden users."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrank.evaluation.ab import SessionSettings, simulate_arms
from fusionrank.evaluation.interleaving import (
    NO_TEAM,
    TEAM_A,
    TEAM_B,
    credit,
    sessions_comparison,
    simulate_interleaving,
    summarize,
    team_draft,
)
from fusionrank.types import PAD


class _Coins:
    """A generator stand-in whose ``random`` returns fixed coins (True means A first)."""

    def __init__(self, a_first: np.ndarray) -> None:
        self.a_first = a_first

    def random(self, shape: tuple[int, int]) -> np.ndarray:
        return np.where(self.a_first, 0.25, 0.75)[:, : shape[1]]


def test_team_draft_golden_example():
    # A = [1, 2, 3, 4], B = [2, 5, 1, 6]. Round 1: the coin says A first: A takes 1, B takes
    # 2. Round 2: the coin says B first: B's best unused is 5, then A's best unused is 3.
    a = np.array([[1, 2, 3, 4]])
    b = np.array([[2, 5, 1, 6]])
    coins = _Coins(np.array([[True, True, False, False]]))
    merged = team_draft(a, b, 4, coins)  # type: ignore[arg-type]
    np.testing.assert_array_equal(merged.item_index, [[1, 2, 5, 3]])
    np.testing.assert_array_equal(merged.team, [[TEAM_A, TEAM_B, TEAM_B, TEAM_A]])


def test_team_draft_invariants_on_random_rankings():
    rng = np.random.default_rng(0)
    n, length = 500, 8
    a = np.argsort(rng.random((n, 12)), axis=1)[:, :length].astype(np.int64)
    b = np.argsort(rng.random((n, 12)), axis=1)[:, :length].astype(np.int64)
    b[:50, 5:] = PAD  # some short rankings
    merged = team_draft(a, b, length, rng)
    for row in range(n):
        items, team = merged.item_index[row], merged.team[row]
        shown = items[items >= 0]
        assert len(set(shown)) == len(shown)  # no item twice
        picks_a, picks_b = (team == TEAM_A).sum(), (team == TEAM_B).sum()
        if abs(picks_a - picks_b) > 1:  # only when the team behind has nothing left to add
            behind = b[row] if picks_b < picks_a else a[row]
            assert set(behind[behind >= 0]) <= set(shown)
        for ranking, side in ((a[row], TEAM_A), (b[row], TEAM_B)):
            mine = items[team == side]
            assert set(mine) <= set(ranking[ranking >= 0])
            order = [int(np.flatnonzero(ranking == item)[0]) for item in mine]
            assert order == sorted(order)  # each team adds its items in its own order
        assert np.all((team == NO_TEAM) == (items < 0))


def test_credit_and_summary():
    team = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 1], [0, 1, 0]], dtype=np.int8)
    clicks = np.array([[1, 0, 1], [1, 0, 1], [0, 0, 0], [1, 1, 0]], dtype=bool)
    credits = credit(team, clicks)
    np.testing.assert_array_equal(credits, [[2, 0], [0, 2], [0, 0], [1, 1]])
    result = summarize(credits)
    assert (result.wins_a, result.wins_b, result.ties) == (1, 1, 2)
    assert result.win_rate == 0.5 and result.preference == 0.0
    assert result.win_rate_ci[0] < 0.5 < result.win_rate_ci[1]


def test_sessions_comparison_golden_number():
    # A/B (paired): (2.80164 * 1.0 / 0.05)² = 3139.7 -> 3140 sessions; interleaving:
    # (2.80164 * 0.5 / 0.1)² = 196.2 -> 197 sessions; ratio 3140 / 197 = 15.94.
    result = sessions_comparison(0.05, 1.0, 0.1, 0.5, ab_design="paired")
    assert (result.ab_sessions, result.interleaving_sessions) == (3140, 197)
    assert result.ratio == pytest.approx(15.94, abs=0.01)
    with pytest.raises(ValueError, match="non-zero"):
        sessions_comparison(0.0, 1.0, 0.1, 0.5)


def test_interleaving_prefers_the_oracle_and_needs_fewer_sessions_than_an_ab(world):
    credits = simulate_interleaving(
        world.truth, world.sampler, world.text(), world.oracle(), 6000, 1, batch_size=2000
    )
    result = summarize(credits)
    assert result.win_rate_ci[0] > 0.5 and result.p_value < 1e-6
    a, b = simulate_arms(
        world.truth,
        world.sampler,
        [world.text(), world.oracle()],
        6000,
        2,
        SessionSettings(max_reformulations=0),
    )
    effect = (b.clicks - a.clicks).mean()
    comparison = sessions_comparison(
        effect, a.clicks.std(ddof=1), result.preference, result.preference_sd
    )
    assert comparison.ratio > 1  # interleaving is the more sensitive comparison


def test_interleaving_identical_rankers_is_a_fair_coin(world):
    credits = simulate_interleaving(
        world.truth, world.sampler, world.text(), world.text(), 6000, 3, batch_size=3000
    )
    result = summarize(credits)
    assert result.win_rate_ci[0] < 0.5 < result.win_rate_ci[1]
