"""The simulator's parts: feature model and blend, featurizer, session model, cache, split."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fusionrank.protocols import PairFeaturizer
from fusionrank.simulator.cache import PairCache
from fusionrank.simulator.data import split_sessions
from fusionrank.simulator.feature_model import FeatureModel, blend
from fusionrank.simulator.featurizer import CatalogFeaturizer
from fusionrank.simulator.purchase import PurchaseModel
from fusionrank.simulator.session import (
    END,
    NEXT,
    REFORMULATE,
    SessionModel,
    SessionOutcomes,
    session_outcomes,
)
from fusionrank.types import PAD, Catalog


def test_blend_golden():
    # n = 5 views of the pair with own estimate 0.8, feature model 0.2, m = 5: halfway.
    assert blend(np.array(0.8), np.array(5.0), np.array(0.2), 5.0) == pytest.approx(0.5)
    # Unseen pair: the feature model; m = 0: the pair's own estimate.
    assert blend(np.array(0.8), np.array(0.0), np.array(0.2), 5.0) == pytest.approx(0.2)
    assert blend(np.array(0.8), np.array(3.0), np.array(0.2), 0.0) == pytest.approx(0.8)


def test_feature_model_recovers_logistic_coefficients():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2))
    p = 1 / (1 + np.exp(-(0.5 + 1.5 * x[:, 0] - 1.0 * x[:, 1])))
    n = rng.integers(5, 30, 4000).astype(float)
    y = rng.binomial(n.astype(int), p) / n
    model = FeatureModel(c=100.0).fit(x, y, n)
    # Coefficients live on the standardised scale: undo it.
    coef = model.coef / model.scale
    intercept = model.intercept - np.sum(model.coef * model.mean / model.scale)
    np.testing.assert_allclose(coef, [1.5, -1.0], atol=0.08)
    assert intercept == pytest.approx(0.5, abs=0.08)
    restored = FeatureModel.from_state(model.state())
    np.testing.assert_array_equal(restored.predict(x[:5]), model.predict(x[:5]))


def test_feature_model_without_features_is_the_weighted_mean():
    # (0.2 * 1 + 0.8 * 3) / 4 = 0.65
    model = FeatureModel().fit(np.zeros((2, 0)), np.array([0.2, 0.8]), np.array([1.0, 3.0]))
    assert model.predict(np.zeros((3, 0))) == pytest.approx(np.full(3, 0.65))
    with pytest.raises(ValueError, match="carry no weight"):
        FeatureModel().fit(np.zeros((2, 1)), np.array([0.2, 0.8]), np.zeros(2))


def test_purchase_model_blends_counts_and_is_off_without_purchases():
    features = np.array([[0.0], [1.0]])
    model = PurchaseModel.fit(features, np.array([10.0, 10.0]), np.array([1.0, 5.0]), 10.0)
    predicted = model.feature_model.predict(features)
    # (k + m f) / (n + m) with n = 10, m = 10
    expected = (np.array([1.0, 5.0]) + 10 * predicted) / 20
    np.testing.assert_allclose(
        model.probs(features, np.array([10.0, 10.0]), np.array([1.0, 5.0])), expected
    )
    off = PurchaseModel.fit(features, np.array([3.0, 1.0]), np.zeros(2), 10.0)
    assert not off.enabled and off.probs(features, np.ones(2), np.zeros(2)).tolist() == [0, 0]


@pytest.fixture
def catalog() -> Catalog:
    table = pd.DataFrame(
        {
            "item_id": ["a", "b", "c"],
            "title": ["red wool hat", "blue running shoes", "green vase"],
            "description": ["warm", "light", "glass flower vase"],
            "price": [10.0, 100.0, 30.0],
            "category": ["hat", "running shoes", "vase"],
            "brand": ["Acme", "Zoom", "Acme"],
        }
    )
    return Catalog(table, root=Path("."))


def test_catalog_featurizer_features(catalog):
    featurizer = CatalogFeaturizer(catalog)
    assert isinstance(featurizer, PairFeaturizer)
    names = featurizer.feature_names
    features = featurizer.pair_features(
        ["acme red hat", "running shoes"], np.array([[0, 2, PAD], [1, 0, PAD]])
    )
    assert features.shape == (2, 3, len(names)) and features.dtype == np.float32
    col = {name: features[..., i] for i, name in enumerate(names)}
    np.testing.assert_array_equal(features[:, 2], 0)  # PAD
    # "acme red hat" names hat (item a's category) and Acme (a's and c's brand).
    assert col["category_match"][0].tolist()[:2] == [1, 0]
    assert col["brand_match"][0].tolist()[:2] == [1, 1]
    # The multi-word category "running shoes" matches item b.
    assert col["category_match"][1, 0] == 1
    # Coverage: "acme red hat" -> item a's text has red and hat (2 of 3 words);
    # "running shoes" -> item b has both.
    assert col["coverage"][0, 0] == pytest.approx(2 / 3)
    assert col["coverage"][1, 0] == pytest.approx(1.0)
    assert col["log_price"][0, 0] == pytest.approx(np.log1p(10.0))
    assert col["title_cosine"][0, 0] > col["title_cosine"][0, 1]


def test_session_outcomes_are_read_from_the_next_page(make_pages):
    # session 0: q0 page 0 -> q0 page 1 -> q1 page 0 (reformulation) -> end
    # session 1: q1 page 0 -> end
    pages = make_pages(
        np.array([0, 0, 1, 1]),
        np.zeros((4, 2), np.int64),
        np.zeros((4, 2), bool),
        session=np.array([0, 0, 0, 1]),
        page=np.array([0, 1, 0, 0]),
    )
    outcomes = session_outcomes(pages)
    assert outcomes.outcome.tolist() == [NEXT, REFORMULATE, END, END]
    assert outcomes.max_pages == 2 and outcomes.max_reformulations == 1
    assert outcomes.can_page.tolist() == [True, False, True, True]
    assert outcomes.can_reformulate.tolist() == [True, True, False, True]


def test_session_model_recovers_its_rates():
    rng = np.random.default_rng(0)
    truth = SessionModel(p_next=0.3, p_reformulate=0.25, max_pages=3, max_reformulations=1)
    n = 40_000
    can_page = rng.random(n) < 0.7
    can_ref = rng.random(n) < 0.6
    stop = rng.uniform(0, 0.6, n)
    stopped = rng.random(n) < stop
    next_page, reformulate = truth.next_step(can_page, can_ref, rng)
    outcome = np.where(
        stopped, END, np.where(next_page, NEXT, np.where(reformulate, REFORMULATE, END))
    )
    fitted = SessionModel.fit(SessionOutcomes(outcome, can_page, can_ref, 3, 1), stop)
    assert fitted.p_next == pytest.approx(0.3, abs=0.015)
    assert fitted.p_reformulate == pytest.approx(0.25, abs=0.015)


def test_pair_cache_computes_each_new_pair_once():
    calls = []

    def compute(query, item):
        calls.append(len(query))
        return {"a": query * 10.0 + item}

    cache = PairCache(n_items=5, names=("a",))
    rows = cache.rows(np.array([1, 2]), np.array([[0, 3], [3, PAD]]), compute)
    assert rows[1, 1] == -1
    assert cache.values["a"][rows[0]].tolist() == [10.0, 13.0]
    rows = cache.rows(np.array([2, 1]), np.array([[3, 4], [0, 3]]), compute)
    assert calls == [3, 1]  # pairs (1,0) (1,3) (2,3), then only (2,4)
    assert cache.values["a"][rows].tolist() == [[23.0, 24.0], [10.0, 13.0]]
    with pytest.raises(ValueError, match="knows 5 items"):
        cache.rows(np.array([0]), np.array([[5]]), compute)


def test_split_holds_out_the_latest_sessions(make_pages):
    pages = make_pages(
        np.zeros(6, np.int64),
        np.zeros((6, 1), np.int64),
        np.zeros((6, 1), bool),
        session=np.array([2, 2, 0, 1, 3, 4]),
    )
    # first timestamps by session: 2 -> 0, 0 -> 2, 1 -> 3, 3 -> 4, 4 -> 5
    split = split_sessions(pages, 0.4)
    assert sorted(set(split.held_out.session.tolist())) == [3, 4]
    assert len(split.train) == 4
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
        split_sessions(pages, 1.0)
