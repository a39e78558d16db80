"""Simulated A/B on ShopWorld's hidden users with real rankers: common random numbers,
metrics, and the calibration of the intervals (A/A coverage, power of a planted lift)."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrank.datasets import load_logs, logs_to_pages
from fusionrank.evaluation.ab import SessionSettings, run_ab, simulate_arms
from fusionrank.evaluation.power import power_at, sample_size
from fusionrank.evaluation.rankers import ScoreTable
from fusionrank.evaluation.stats import paired_lifts
from fusionrank.retrieval.metrics import dcg
from fusionrank.simulator.traffic import QuerySampler

SETTINGS = SessionSettings(slate_size=10, max_pages=3, max_reformulations=1, batch_size=2000)


def test_identical_arms_have_identical_sessions(world):
    a, b = simulate_arms(
        world.truth,
        world.sampler,
        [world.text(), world.text()],
        3000,
        1,
        SETTINGS,
        world.reformulate,
        world.judge,
    )
    for name in (*a.names, "pages"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.clicks.sum() > 0 and a.purchases.sum() > 0


def test_sessions_whose_pages_agree_behave_the_same(world):
    # B reverses the text order of every other query and keeps the rest: sessions of the
    # kept queries see the same pages in both arms, so the users' draws are the same.
    changed = np.arange(len(world.query_ids)) % 2 == 1
    scores = np.where(changed[:, None], -world.text_scores, world.text_scores)
    partly = ScoreTable(world.query_ids, world.pool, scores, "partly reversed")
    a, b = simulate_arms(world.truth, world.sampler, [world.text(), partly], 4000, 2, SETTINGS)
    first = simulate_arms(world.truth, world.sampler, [world.text()], 4000, 2, SETTINGS)[0]
    np.testing.assert_array_equal(first.clicks, a.clicks)  # a rerun of A alone agrees
    differs = a.clicks != b.clicks
    assert differs.any()
    kept = np.isin(_first_queries(world, 4000, 2), world.query_ids[~changed])
    assert not differs[kept].any()


def _first_queries(world, n_sessions: int, seed: int) -> np.ndarray:
    """The first queries simulate_arms draws (its traffic stream, one batch at a time)."""
    root = np.random.SeedSequence(seed)
    starts = range(0, n_sessions, SETTINGS.batch_size)
    out = []
    for start, child in zip(starts, root.spawn(len(starts)), strict=True):
        traffic = np.random.default_rng(child.spawn(2)[0])
        out.append(world.sampler.sample(min(SETTINGS.batch_size, n_sessions - start), traffic))
    return np.concatenate(out)


def test_oracle_beats_random_order(world):
    run = run_ab(
        world.truth,
        world.sampler,
        world.random(3),
        world.oracle(),
        4000,
        4,
        names=("random", "oracle"),
        settings=SETTINGS,
        reformulate=world.reformulate,
        judge=world.judge,
        n_bootstrap=300,
    )
    for metric in ("clicks", "purchases", "ctr", "ndcg"):
        lift = run.lift(metric)
        assert lift.significant and lift.ci_normal[0] > 0 and lift.ci_bootstrap[0] > 0, metric
    assert run.lift("abandoned").ci_normal[1] < 0
    assert np.all(run.b.ndcg >= run.a.ndcg - 1e-12)  # the oracle orders every pool best


def test_session_metrics_are_consistent(world):
    (m,) = simulate_arms(
        world.truth, world.sampler, [world.text()], 3000, 5, SETTINGS, world.reformulate
    )
    assert np.all(m.purchases <= m.clicks)
    assert np.all((m.ctr >= 0) & (m.ctr <= 1))
    assert np.all((m.pages >= 1) & (m.pages <= SETTINGS.max_pages * 2))
    assert np.array_equal(m.revenue > 0, m.purchases > 0)
    assert np.all(m.clicks[m.abandoned == 1] >= 0) and 0 < m.abandoned.mean() < 1
    assert np.isnan(m.ndcg).all() and "ndcg" not in m.names
    assert (m.pages > 1).any()  # some users page on or reword


def test_same_seed_same_sessions_other_seed_other_sessions(world):
    runs = [
        simulate_arms(world.truth, world.sampler, [world.oracle()], 1000, seed, SETTINGS)[0]
        for seed in (6, 6, 7)
    ]
    np.testing.assert_array_equal(runs[0].clicks, runs[1].clicks)
    assert not np.array_equal(runs[0].clicks, runs[2].clicks)


def test_common_random_numbers_shrink_the_variance_of_differences(world):
    text, noisy = world.text(), world.noisy(1.0, 8)
    a, b = simulate_arms(world.truth, world.sampler, [text, noisy], 6000, 9, SETTINGS)
    (c,) = simulate_arms(world.truth, world.sampler, [noisy], 6000, 10, SETTINGS)
    paired = (b.clicks - a.clicks).std()
    independent = (c.clicks - a.clicks).std()
    assert paired < 0.8 * independent


def test_dcg_golden_number():
    # (2^3 - 1)/log2(2) + (2^2 - 1)/log2(3) + 0 = 7 + 1.89279 = 8.89279
    assert dcg(np.array([[3.0, 2.0, 0.0]]), 10)[0] == pytest.approx(8.89279, abs=1e-5)


def test_query_sampler_from_logs(tiny_world):
    pages = logs_to_pages(load_logs(tiny_world / "data" / "logs.parquet"))
    sampler = QuerySampler.from_pages(pages)
    assert sampler.weights.sum() == pytest.approx(1.0)
    assert set(sampler.query_ids) <= set(pages.query_ids)


def test_a_ranker_that_returns_scores_is_refused(world):
    with pytest.raises(ValueError, match="int64"):
        simulate_arms(
            world.truth, world.sampler, [lambda q: np.zeros((len(q), 5))], 10, 0, SETTINGS
        )


def _split_lifts(a, b, n_runs: int, seed: int) -> list:
    """Cut paired sessions into n_runs equal runs and compute each run's lifts."""
    size = len(a) // n_runs
    rng = np.random.default_rng(seed)
    results = []
    for run in range(n_runs):
        part = slice(run * size, (run + 1) * size)
        results.append(
            paired_lifts(
                np.stack([a.clicks[part], a.purchases[part]]),
                np.stack([b.clicks[part], b.purchases[part]]),
                ["clicks", "purchases"],
                n_bootstrap=200,
                rng=rng,
            )
        )
    return results


@pytest.mark.slow
def test_aa_intervals_cover_zero_95_percent_of_the_time(world):
    # Two arms with the same policy (a random order, drawn independently per arm): the
    # true lift is 0. Sessions are independent, so 400 runs of 300 paired sessions are
    # one simulation of 120,000 sessions cut in 400 pieces. Coverage must be 93-97 %.
    a, b = simulate_arms(
        world.truth,
        world.sampler,
        [world.random(11), world.random(12)],
        120_000,
        13,
        SessionSettings(batch_size=20_000),
        world.reformulate,
    )
    results = _split_lifts(a, b, 400, 14)
    for i, metric in enumerate(("clicks", "purchases")):
        normal = np.mean([r[i].ci_normal[0] <= 0 <= r[i].ci_normal[1] for r in results])
        boot = np.mean([r[i].ci_bootstrap[0] <= 0 <= r[i].ci_bootstrap[1] for r in results])
        assert 0.93 <= normal <= 0.97, (metric, normal)
        assert 0.93 <= boot <= 0.97, (metric, boot)


@pytest.mark.slow
def test_a_planted_lift_is_detected_at_the_predicted_power(world):
    # B (true relevance seen through heavy noise) and A (the text order) differ by a small
    # amount (on the tiny world, B gets about 0.1 fewer clicks per session). A pilot of
    # 60,000 sessions measures the effect and the sd of the paired difference; the run size
    # for 80 % power follows, and 300 runs of that size must detect the lift about 80 % of
    # the time (binomial sd 2.3 %, so a band of ± 0.08 is over 3 sd).
    text, noisy = world.text(), world.noisy(2.0, 15)
    pilot_a, pilot_b = simulate_arms(world.truth, world.sampler, [text, noisy], 60_000, 16)
    diff = pilot_b.clicks - pilot_a.clicks
    effect, sd = diff.mean(), diff.std(ddof=1)
    n = sample_size(effect, sd, power=0.8, design="paired")
    assert 50 <= n <= 1000, n  # the planted lift is small enough to need real runs
    a, b = simulate_arms(world.truth, world.sampler, [text, noisy], 300 * n, 17)
    results = _split_lifts(a, b, 300, 18)
    detected = np.mean([r[0].significant and r[0].diff * effect > 0 for r in results])
    predicted = power_at(effect, sd, n, design="paired")
    assert abs(detected - predicted) <= 0.08, (detected, predicted, n)


def test_settings_come_from_the_run_config():
    from fusionrank.config import load_config

    config = load_config(overrides=["evaluation.max_pages=2", "evaluation.slate_size=5"])
    settings = SessionSettings.from_config(config.evaluation)
    assert (settings.max_pages, settings.slate_size) == (2, 5)
    with pytest.raises(ValueError, match=r"evaluation\.alpha"):
        load_config(overrides=["evaluation.alpha=0.7"])
