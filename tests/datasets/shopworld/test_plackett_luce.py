import numpy as np
import pytest

from fusionrank.datasets.shopworld.plackett_luce import marginals, sample_rankings


def test_first_rank_marginal_is_the_softmax():
    log_weights = np.log(np.array([[1.0, 2.0, 3.0, 4.0]]))
    # P(item j first) = w_j / sum(w) = j / 10
    np.testing.assert_allclose(marginals(log_weights, 1)[0, :, 0], [0.1, 0.2, 0.3, 0.4], atol=1e-8)


def test_second_rank_by_hand():
    log_weights = np.log(np.array([[1.0, 1.0, 2.0]]))
    # P(c second) = P(a first) P(c | a out) + P(b first) P(c | b out) = 2 * 1/4 * 2/3 = 1/3
    assert marginals(log_weights, 2)[0, 2, 1] == pytest.approx(1 / 3, abs=1e-8)


def test_marginals_agree_with_sampling_and_sum_correctly():
    rng = np.random.default_rng(0)
    log_weights = rng.normal(0, 1.5, size=(2, 25))
    exact = marginals(log_weights, 8)
    np.testing.assert_allclose(exact.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(exact.sum(axis=2) <= 1 + 1e-9)
    n = 100_000
    ranks = sample_rankings(np.repeat(log_weights[:1], n, axis=0), 8, rng)
    empirical = np.stack([np.bincount(ranks[:, r], minlength=25) / n for r in range(8)], axis=1)
    se = np.sqrt(exact[0] * (1 - exact[0]) / n) + 1e-5
    assert np.all(np.abs(empirical - exact[0]) < 5 * se)


def test_sampled_rankings_never_repeat_an_item():
    ranks = sample_rankings(np.zeros((50, 12)), 12, np.random.default_rng(1))
    assert all(len(set(row)) == 12 for row in ranks.tolist())
