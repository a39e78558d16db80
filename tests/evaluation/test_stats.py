"""Paired lifts, the power calculator and the mSPRT: golden numbers and simulated error
rates."""

from __future__ import annotations

import numpy as np
import pytest

from fusionrank.evaluation import power as pw
from fusionrank.evaluation.sequential import msprt, simulated_type_one_error
from fusionrank.evaluation.stats import cumulative_lift, paired_lift, paired_lifts


def test_paired_lift_golden_numbers():
    # d = b - a = [1, 0, 2, 1]: mean 1, s_d = sqrt(2/3) = 0.8165, se = 0.4082;
    # t_{3, 0.975} = 3.1824, so the interval is 1 ± 1.2992 and t = 2.449 gives p = 0.0917.
    # Relative: 3.5 / 2.5 - 1 = 0.4; s_a² = 5/3, s_b² = 3, s_ab = 2, so the delta-method
    # variance is (3/6.25 + 12.25 (5/3)/39.0625 - 2 (3.5)(2)/15.625) / 4 = 0.026667,
    # sd 0.1633, interval 0.4 ± 0.5197. MDE = (1.95996 + 0.84162) 0.4082 = 1.1437.
    a = np.array([1.0, 2.0, 3.0, 4.0])
    b = np.array([2.0, 2.0, 5.0, 5.0])
    r = paired_lift(a, b, "x", rng=np.random.default_rng(0))
    assert (r.mean_a, r.mean_b, r.diff) == (2.5, 3.5, 1.0)
    assert r.se == pytest.approx(0.40825, abs=1e-5)
    assert r.ci_normal == pytest.approx((-0.2992, 2.2992), abs=1e-4)
    assert r.p_value == pytest.approx(0.0917, abs=1e-4)
    assert r.relative == pytest.approx(0.4)
    assert r.relative_ci_normal == pytest.approx((0.4 - 0.5197, 0.4 + 0.5197), abs=1e-4)
    assert r.mde == pytest.approx(1.1437, abs=1e-4)
    assert r.mde_relative == pytest.approx(1.1437 / 2.5, abs=1e-4)
    assert not r.significant


def test_bootstrap_agrees_with_normal_interval_on_many_sessions():
    rng = np.random.default_rng(1)
    a = rng.poisson(1.0, 20_000).astype(float)
    b = a + rng.normal(0.05, 1.0, 20_000)
    r = paired_lift(a, b, rng=np.random.default_rng(2))
    assert r.ci_bootstrap == pytest.approx(r.ci_normal, abs=0.004)
    assert r.relative_ci_bootstrap == pytest.approx(r.relative_ci_normal, abs=0.005)
    assert r.significant and r.ci_normal[0] > 0


def test_identical_arms_give_an_exact_zero():
    a = np.random.default_rng(3).poisson(2.0, 100).astype(float)
    r = paired_lift(a, a.copy(), rng=np.random.default_rng(4))
    assert r.diff == 0 and r.ci_normal == (0.0, 0.0) and r.ci_bootstrap == (0.0, 0.0)
    assert r.p_value == 1.0


def test_several_metrics_at_once_match_one_at_a_time():
    rng = np.random.default_rng(5)
    a = rng.random((3, 500))
    b = a + rng.normal(0.02, 0.3, (3, 500))
    together = paired_lifts(a, b, ["x", "y", "z"], rng=np.random.default_rng(6))
    for i, result in enumerate(together):
        alone = paired_lift(a[i], b[i], result.metric, rng=np.random.default_rng(6))
        assert result.ci_normal == pytest.approx(alone.ci_normal)
        assert result.p_value == pytest.approx(alone.p_value)


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [
        (np.ones(5), np.ones(4), "same shape"),
        (np.ones(1), np.ones(1), "at least 2 sessions"),
        (np.array([1.0, np.nan]), np.ones(2), "NaN"),
    ],
)
def test_bad_arms_are_refused(a, b, message):
    with pytest.raises(ValueError, match=message):
        paired_lift(a, b, rng=np.random.default_rng(0))


def test_cumulative_lift_ends_at_the_full_mean():
    rng = np.random.default_rng(7)
    a, b = rng.random(1000), rng.random(1000) + 0.1
    curve = cumulative_lift(a, b, n_points=50)
    assert curve["sessions"][-1] == 1000
    assert curve["diff"][-1] == pytest.approx((b - a).mean())
    assert np.all(curve["low"] <= curve["diff"]) and np.all(curve["diff"] <= curve["high"])


def test_sample_size_golden_number():
    # p = 0.05, +2 %: delta = 0.001, sigma² = 0.0475, (z_a + z_b)² = 2.80164² = 7.8489;
    # n = 2 * 0.0475 * 7.8489 / 1e-6 = 745,644 per arm (rounded up).
    n = pw.sample_size(0.001, pw.proportion_sd(0.05))
    assert n == 745_644
    assert pw.sample_size(0.001, pw.proportion_sd(0.05), design="paired") == 372_822
    assert pw.power_at(0.001, pw.proportion_sd(0.05), n) == pytest.approx(0.8, abs=1e-4)


def test_power_and_mde_invert_each_other():
    mde = pw.minimum_detectable_effect(1.3, 10_000, alpha=0.01, power=0.9)
    assert pw.power_at(mde, 1.3, 10_000, alpha=0.01) == pytest.approx(0.9, abs=1e-6)
    plan = pw.plan(0.1, sessions_per_arm=10_000)
    assert plan.power == pytest.approx(0.8, abs=1e-6)
    back = pw.plan(0.1, relative_effect=plan.relative_effect)
    assert abs(back.sessions_per_arm - 10_000) <= 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: pw.sample_size(0.0, 1.0), "non-zero"),
        (lambda: pw.sample_size(0.1, 1.0, alpha=1.5), "alpha"),
        (lambda: pw.sample_size(0.1, 1.0, design="three-arm"), "design"),  # type: ignore[arg-type]
        (lambda: pw.plan(0.05), "exactly one"),
        (lambda: pw.proportion_sd(1.2), "baseline rate"),
    ],
)
def test_power_calculator_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("sampler", ["normal", "skewed"])
def test_msprt_type_one_error_is_at_most_alpha(sampler):
    # 1,000 null streams of 3,000 looks each; the rate must stay below alpha = 0.05 up to
    # Monte-Carlo noise (2.5 binomial standard errors: 0.05 + 2.5 * 0.0069).
    rate = simulated_type_one_error(1000, 3000, np.random.default_rng(8), sampler=sampler)
    assert rate <= 0.05 + 2.5 * np.sqrt(0.05 * 0.95 / 1000)


def test_msprt_stops_early_on_a_real_effect_and_covers_it():
    rng = np.random.default_rng(9)
    stops = []
    for _ in range(50):
        result = msprt(rng.normal(0.2, 1.0, 4000), tau=0.2)
        assert result.ci[0] <= 0.2 <= result.ci[1] or not result.reject
        stops.append(result.stopped_at or 4000)
    # A fixed-n test would need (2.8 / 0.2)² = 196 sessions for 80 % power; the mSPRT
    # pays for peeking but still stops well before the end of the stream.
    assert np.median(stops) < 1500
    assert np.mean([s < 4000 for s in stops]) > 0.95


def test_msprt_on_a_null_stream_does_not_reject():
    # A null stream rejects with probability <= 0.05; this seed's stream is one that does
    # not (the rate itself is checked by simulation above).
    result = msprt(np.random.default_rng(11).normal(0.0, 1.0, 2000))
    assert not result.reject and result.stopped_at is None and result.p_value > 0.05
    assert result.ci[0] < 0 < result.ci[1]
