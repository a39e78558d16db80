"""Click models: parameter recovery, likelihood arithmetic, storage and bad input."""

import numpy as np
import pytest

from fusionrank.simulator.click_models import (
    CLICK_MODELS,
    DBN,
    DCM,
    PBM,
    SDBN,
    UBM,
    Cascade,
    ClickModel,
    RankCTR,
    make_click_model,
)
from fusionrank.simulator.click_models.base import PairTable, summarize_likelihood
from fusionrank.types import PAD

N_RANKS = 5
EXAMINATION = np.array([1.0, 0.6, 0.45, 0.35, 0.25])
# Weak smoothing, so that recovered values are not pulled towards 0.5.
WEAK = (0.01, 0.02)


def pair_attractiveness(model, pages, true_attract):
    """The model's attractiveness and the truth for each fitted pair."""
    items = model.table.keys % model.table.n_items
    return model.pair_values["attractiveness"], true_attract[items]


def test_pbm_recovers_examination_and_attractiveness(synthetic):
    gamma = np.repeat(EXAMINATION[:, None], N_RANKS + 1, axis=1)
    pages, attract = synthetic("examination", 20_000, seed=1, gamma=gamma)
    model = PBM(WEAK, n_iterations=200).fit(pages)
    scale = model.examination[0]
    np.testing.assert_allclose(model.examination / scale, EXAMINATION, atol=0.04)
    fitted, true = pair_attractiveness(model, pages, attract)
    np.testing.assert_allclose(fitted * scale, true, atol=0.08)


def test_ubm_recovers_examination_after_a_click(synthetic):
    rng = np.random.default_rng(3)
    gamma = np.tril(rng.uniform(0.3, 0.9, (N_RANKS, N_RANKS + 1)))
    gamma[:, 0] = EXAMINATION
    pages, attract = synthetic("examination", 30_000, seed=2, gamma=gamma)
    model = UBM(WEAK, n_iterations=200).fit(pages)
    scale = model.examination[0, 0]
    # Cells seen often enough: rank r after a click at r - 1, and no click yet.
    for r in range(1, N_RANKS):
        assert model.examination[r, 0] / scale == pytest.approx(gamma[r, 0], abs=0.05)
        assert model.examination[r, r] / scale == pytest.approx(gamma[r, r], abs=0.08)
    fitted, true = pair_attractiveness(model, pages, attract)
    np.testing.assert_allclose(fitted * scale, true, atol=0.08)


def test_dbn_recovers_continuation_and_satisfaction(synthetic):
    satisfaction = np.random.default_rng(5).uniform(0.2, 0.8, 32)
    pages, attract = synthetic(
        "chain", 30_000, seed=3, satisfaction=satisfaction, continue_click=0.8, continue_skip=0.8
    )
    model = DBN(WEAK, n_iterations=100).fit(pages)
    assert model.gamma == pytest.approx(0.8, abs=0.03)
    fitted, true = pair_attractiveness(model, pages, attract)
    np.testing.assert_allclose(fitted, true, atol=0.08)
    items = model.table.keys % model.table.n_items
    weights = model.pair_weights["satisfaction"]
    error = np.abs(model.pair_values["satisfaction"] - satisfaction[items])
    assert np.average(error, weights=weights) < 0.06


def test_sdbn_and_dcm_closed_form_recover_their_parameters(synthetic):
    satisfaction = np.random.default_rng(6).uniform(0.2, 0.8, 32)
    pages, attract = synthetic(
        "chain", 20_000, seed=4, satisfaction=satisfaction, continue_click=1.0, continue_skip=1.0
    )
    model = SDBN(WEAK).fit(pages)
    fitted, true = pair_attractiveness(model, pages, attract)
    # The closed form counts views only down to the last click, although an unsatisfied
    # user reads on: attractiveness comes out slightly high, never far off.
    np.testing.assert_allclose(fitted, true, atol=0.1)
    assert 0 < np.mean(fitted - true) < 0.05
    items = model.table.keys % model.table.n_items
    # A last click is counted as satisfying: s comes out high, in the right order.
    fitted_s, true_s = model.pair_values["satisfaction"], satisfaction[items]
    assert np.corrcoef(fitted_s, true_s)[0, 1] > 0.9
    assert np.all(fitted_s > true_s - 0.05)
    # DCM with one stop probability for every pair: 1 - lambda_r recovers it.
    pages, attract = synthetic(
        "chain", 20_000, seed=5, satisfaction=np.full(32, 0.4), continue_click=1, continue_skip=1
    )
    dcm = DCM(WEAK).fit(pages)
    # The estimate (last clicks at r) / (clicks at r) converges to
    # s + (1 - s) P(no click below r | read on) = 0.4 + 0.6 E[prod_{j>r} (1 - a_j)].
    quiet_below = np.array(
        [np.prod(1 - attract[pages.item_index[:, r + 1 :]], axis=1).mean() for r in range(5)]
    )
    np.testing.assert_allclose(dcm.stop, 0.4 + 0.6 * quiet_below, atol=0.03)


def test_cascade_recovers_attractiveness(synthetic):
    pages, attract = synthetic(
        "chain", 10_000, seed=6, satisfaction=np.ones(32), continue_click=0.0, continue_skip=1.0
    )
    model = Cascade(WEAK).fit(pages)
    fitted, true = pair_attractiveness(model, pages, attract)
    np.testing.assert_allclose(fitted, true, atol=0.08)


def test_pbm_closed_form_golden(make_pages):
    # Two pages, one pair at rank 0 with examination fixed by the data: with one item
    # per page, a click rate of 1/4 at rank 0, and the prior (1, 2), the rank parameter
    # and the pair parameter share the evidence; their product must match 1/4 closely.
    clicks = np.array([[True], [False], [False], [False]] * 50)
    pages = make_pages(np.zeros(200, np.int64), np.zeros((200, 1), np.int64), clicks)
    model = PBM(n_iterations=300).fit(pages)
    probs = model.click_probs(np.array([0]), np.array([[0]]))
    assert probs[0, 0] == pytest.approx(0.25, abs=0.01)


def test_em_likelihood_never_decreases(synthetic):
    gamma = np.repeat(EXAMINATION[:, None], N_RANKS + 1, axis=1)
    pages, _ = synthetic("examination", 2_000, seed=7, gamma=gamma)
    for cls in (PBM, UBM, DBN):
        totals = [cls(n_iterations=k).fit(pages).log_likelihood(pages).total for k in (1, 3, 9)]
        assert totals[0] <= totals[1] + 1e-6 <= totals[2] + 2e-6, cls.name


def test_likelihood_and_perplexity_arithmetic():
    # One rank, P(click) = 0.5 on two pages -> ln 0.5 per cell, perplexity exactly 2.
    ll, pp = summarize_likelihood(np.full((2, 1), np.log(0.5)), np.ones((2, 1), bool))
    assert ll.total == pytest.approx(2 * np.log(0.5))
    assert ll.mean == pytest.approx(np.log(0.5))
    assert pp.mean == pytest.approx(2.0)
    # A rank with no shown cell is NaN and left out of the mean.
    shown = np.array([[True, False]])
    ll, pp = summarize_likelihood(np.array([[np.log(0.8), 0.0]]), shown)
    assert np.isnan(pp.per_rank[1]) and pp.mean == pytest.approx(2 ** -np.log2(0.8))


@pytest.mark.parametrize("name", sorted(CLICK_MODELS))
def test_every_model_round_trips_and_fits_the_protocol(name, synthetic, tmp_path):
    gamma = np.repeat(EXAMINATION[:, None], N_RANKS + 1, axis=1)
    pages, _ = synthetic("examination", 600, seed=8, gamma=gamma)
    model = make_click_model(name, n_iterations=5).fit(pages)
    assert isinstance(model, ClickModel)
    model.save(tmp_path / name)
    loaded = type(model).load(tmp_path / name)
    query, items = pages.query[:20], pages.item_index[:20]
    np.testing.assert_array_equal(loaded.click_probs(query, items), model.click_probs(query, items))
    assert loaded.log_likelihood(pages).total == pytest.approx(model.log_likelihood(pages).total)
    ll = model.log_likelihood(pages)
    assert ll.total == pytest.approx(np.nansum(ll.per_rank * ll.n_cells))
    probs = model.click_probs(query, items)
    assert np.all((probs >= 0) & (probs <= 1))
    sample = model.sample(query, items, np.random.default_rng(0))
    assert sample.dtype == bool and sample.shape == items.shape


def test_unseen_pairs_get_the_prior_mean_and_pad_is_never_clicked(synthetic):
    gamma = np.repeat(EXAMINATION[:, None], N_RANKS + 1, axis=1)
    pages, _ = synthetic("examination", 500, seed=9, gamma=gamma)
    model = PBM(prior=(1, 4)).fit(pages)
    params = model.pair_params(np.array([-1, 0]), np.array([[3, PAD], [0, PAD]]))
    assert params["attractiveness"].value[0, 0] == 0.25
    assert params["attractiveness"].weight[0, 0] == 0.0
    probs = model.click_probs(np.array([0]), np.array([[0, PAD, PAD]]))
    assert probs[0, 1:].tolist() == [0.0, 0.0]


def test_evaluation_maps_other_vocabularies(synthetic, make_pages):
    gamma = np.repeat(EXAMINATION[:, None], N_RANKS + 1, axis=1)
    pages, _ = synthetic("examination", 800, seed=10, gamma=gamma)
    model = UBM(n_iterations=10).fit(pages)
    # The same pages with queries and items renumbered in reverse.
    n_q, n_i = len(pages.query_ids), len(pages.item_ids)
    reversed_pages = make_pages(
        n_q - 1 - pages.query, np.where(pages.shown, n_i - 1 - pages.item_index, PAD), pages.clicks
    )
    reversed_pages = type(reversed_pages)(
        **{
            **reversed_pages.__dict__,
            "query_ids": pages.query_ids[::-1].copy(),
            "item_ids": pages.item_ids[::-1].copy(),
        }
    )
    assert model.log_likelihood(reversed_pages).total == pytest.approx(
        model.log_likelihood(pages).total
    )


def test_pair_table_locates_pairs():
    table = PairTable(keys=np.array([3, 12, 17], np.int64), n_items=5)
    rows = table.locate(np.array([0, 2, 3]), np.array([[3, 4], [2, PAD], [2, 0]]))
    # keys: 0*5+3=3 (row 0), 4 (none); 12 (row 1), PAD; 17 (row 2), 15 (none)
    assert rows.tolist() == [[0, -1], [1, -1], [2, -1]]


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("click_on_pad", "click at position 2, where no item was shown"),
        ("empty", "the logs hold no result pages"),
        ("unfitted", "is not fitted"),
        ("too_wide", "pages have 4 ranks but the rank_ctr model was fitted on 2"),
        ("unknown", "unknown click model 'pdm'"),
        ("prior", "prior must satisfy 0 < clicks < views"),
    ],
)
def test_bad_input_gives_clear_errors(action, message, make_pages):
    clicks = np.array([[True, False], [False, False]])
    items = np.array([[0, 1], [1, 0]])
    good = make_pages(np.array([0, 0]), items, clicks)
    with pytest.raises(ValueError, match=message):
        if action == "click_on_pad":
            RankCTR().fit(make_pages(np.array([0, 0]), np.array([[0, PAD], [1, 0]]), ~clicks))
        elif action == "empty":
            RankCTR().fit(good.subset(np.zeros(2, bool)))
        elif action == "unfitted":
            RankCTR().click_probs(np.array([0]), items[:1])
        elif action == "too_wide":
            RankCTR().fit(good).click_probs(np.array([0]), np.zeros((1, 4), np.int64))
        elif action == "unknown":
            make_click_model("pdm")
        else:
            PBM(prior=(2, 1))
