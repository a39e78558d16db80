"""Golden numbers and properties of the two page shapes every click model uses."""

import numpy as np
import pytest

from fusionrank.simulator.click_models.pages import ChainPage, ExaminationPage


def pbm_page(a: list[float], e: list[float]) -> ExaminationPage:
    n = len(e)
    return ExaminationPage(np.array([a]), np.repeat(np.array(e)[:, None], n + 1, axis=1))


def chain(a, s, g_click, g_skip) -> ChainPage:
    row = [np.array([v], dtype=np.float64) for v in (a, s, g_click, g_skip)]
    return ChainPage(*row)


def test_pbm_golden():
    # e = [1, 1/2, 1/3], a = 0.6: P(C) = [0.6, 0.5 * 0.6, 0.6 / 3] = [0.6, 0.3, 0.2]
    page = pbm_page([0.6, 0.6, 0.6], [1, 1 / 2, 1 / 3])
    np.testing.assert_allclose(page.click_probs(), [[0.6, 0.3, 0.2]])
    # PBM's clicks are independent: conditioning on earlier clicks changes nothing.
    np.testing.assert_allclose(
        page.conditional_click_probs(np.array([[True, False, True]])), [[0.6, 0.3, 0.2]]
    )


def test_ubm_golden():
    # gamma[r, j]: j = 1 + rank of the last click above r, 0 when none.
    gamma = np.array([[1.0, 0, 0, 0], [0.5, 0.8, 0, 0], [0.3, 0.4, 0.9, 0]])
    page = ExaminationPage(np.array([[0.5, 0.5, 0.5]]), gamma)
    # clicks (1, 0, ?): rank 2 after a click at rank 0 -> gamma[2, 1] * a = 0.4 * 0.5
    probs = page.conditional_click_probs(np.array([[True, False, False]]))
    np.testing.assert_allclose(probs, [[0.5, 0.8 * 0.5, 0.2]])
    # Marginal P(C_1) = P(C_0) gamma[1,1] a + P(not C_0) gamma[1,0] a
    #                 = 0.5 * 0.8 * 0.5 + 0.5 * 0.5 * 0.5 = 0.325
    assert page.click_probs()[0, 1] == pytest.approx(0.325)


def test_cascade_golden_and_sum():
    a = [0.5, 0.4, 0.2]
    page = chain(a, [1.0] * 3, [0.0] * 3, [1.0] * 3)
    # [0.5, 0.5 * 0.4, 0.5 * 0.6 * 0.2] = [0.5, 0.2, 0.06]
    probs = page.click_probs()
    np.testing.assert_allclose(probs, [[0.5, 0.2, 0.06]])
    # At most one click per page: the probabilities sum to 1 - prod(1 - a) = 0.76.
    assert probs.sum() == pytest.approx(1 - 0.5 * 0.6 * 0.8)


def test_dbn_golden():
    # gamma 0.9, a 0.5, s 0.2: eps_1 = 0.9 * (1 - 0.5 * 0.2) = 0.81; P(C_1) = 0.405
    page = chain([0.5, 0.5], [0.2, 0.2], [0.9, 0.9], [0.9, 0.9])
    np.testing.assert_allclose(page.click_probs(), [[0.5, 0.405]])
    # After a click at rank 0: (1 - s) * gamma * a = 0.8 * 0.9 * 0.5 = 0.36
    # After a skip: gamma * (1 - a) / (1 - a) * a = 0.9 * 0.5 = 0.45
    clicked = page.conditional_click_probs(np.array([[True, False]]))
    skipped = page.conditional_click_probs(np.array([[False, False]]))
    assert clicked[0, 1] == pytest.approx(0.36)
    assert skipped[0, 1] == pytest.approx(0.45)


def test_stop_posterior_golden():
    # A click on the last rank: nothing below can contradict it, so P(satisfied) = s.
    page = chain([0.5, 0.5], [0.2, 0.3], [0.9, 0.9], [0.9, 0.9])
    none = np.zeros((1, 2))
    assert page.stop_posterior(np.array([[False, True]]), none)[0] == pytest.approx(0.3)
    assert page.stop_posterior(np.array([[False, False]]), none)[0] == 0.0
    # A click at rank 0 and none at rank 1: s / (s + (1 - s) q) with
    # q = g (1 - a_1) + 1 - g = 0.9 * 0.5 + 0.1 = 0.55 -> 0.2 / (0.2 + 0.8 * 0.55)
    posterior = page.stop_posterior(np.array([[True, False]]), none)[0]
    assert posterior == pytest.approx(0.2 / (0.2 + 0.8 * 0.55))
    # A purchase probability b leaves max(s - b, 0) / (1 - b) for satisfaction.
    buys = np.array([[0.0, 0.1]])
    expected = (0.2 / 0.9) / (0.2 / 0.9 + 0.7 / 0.9)
    assert page.stop_posterior(np.array([[False, True]]), buys)[0] == pytest.approx(expected)


def random_pages(rng: np.random.Generator, n: int = 4, n_ranks: int = 6):
    a = rng.random((n, n_ranks))
    gamma = np.tril(rng.random((n_ranks, n_ranks + 1)), k=0)
    examination = ExaminationPage(a, gamma)
    chain_page = ChainPage(a, rng.random(a.shape), rng.random(a.shape), rng.random(a.shape))
    return examination, chain_page


@pytest.mark.parametrize("seed", range(5))
def test_probabilities_are_in_unit_interval(seed):
    rng = np.random.default_rng(seed)
    clicks = rng.random((4, 6)) < 0.4
    buy = rng.random((4, 6))
    for page in random_pages(rng):
        for probs in (
            page.click_probs(),
            page.conditional_click_probs(clicks),
            *page.expected(buy)[:2],
            page.stop_posterior(clicks, buy),
        ):
            assert np.all((probs >= 0) & (probs <= 1 + 1e-12))


def tile(page: ExaminationPage | ChainPage, n: int) -> ExaminationPage | ChainPage:
    if isinstance(page, ExaminationPage):
        return ExaminationPage(np.repeat(page.attractiveness, n, axis=0), page.examination)
    fields = (page.attractiveness, page.satisfaction, page.continue_click, page.continue_skip)
    return ChainPage(*(np.repeat(x, n, axis=0) for x in fields))


@pytest.mark.parametrize("kind", [0, 1])
def test_samples_match_expectations(kind):
    rng = np.random.default_rng(7)
    page = random_pages(rng, n=1)[kind]
    n = 40_000
    tiled = tile(page, n)
    buy = np.full(tiled.attractiveness.shape, 0.3)
    sample = tiled.sample(buy, rng)
    clicks, purchases, stopped = tiled.expected(buy)
    np.testing.assert_allclose(sample.clicks.mean(axis=0), clicks[0], atol=0.012)
    np.testing.assert_allclose(sample.purchases.mean(axis=0), purchases[0], atol=0.01)
    assert sample.stopped.mean() == pytest.approx(stopped[0], abs=0.012)
    assert not np.any(sample.purchases & ~sample.clicks)


def test_examination_stop_is_exact_golden():
    # UBM, 2 ranks: gamma[0, 0] = 1; gamma[1, 0] = 0.5 (no click above), gamma[1, 1] = 1.
    # a = 0.5 both, b = 0.5 both. P(no purchase) = P(C_0 = 0) (1 - 0.5 * 0.5 * 0.5)
    # + P(C_0 = 1, B_0 = 0) (1 - 1 * 0.5 * 0.5) = 0.5 * 0.875 + 0.25 * 0.75 = 0.625.
    gamma = np.array([[1.0, 0.0, 0.0], [0.5, 1.0, 0.0]])
    page = ExaminationPage(np.array([[0.5, 0.5]]), gamma)
    _, _, stopped = page.expected(np.full((1, 2), 0.5))
    assert stopped[0] == pytest.approx(1 - 0.625)
