import numpy as np
import pytest

from fusionrank.datasets.shopworld.needs import OPEN, relevance
from fusionrank.datasets.shopworld.truth import HiddenTruth, UserModel
from fusionrank.datasets.shopworld.vocab import COLOURS, MATERIALS, PATTERNS
from fusionrank.protocols import UserModel as UserModelRole

TSHIRT, DRESS = 0, 1
RED, PINK, BLUE = (
    next(i for i, c in enumerate(COLOURS) if c.name == n) for n in ("red", "pink", "blue")
)
COTTON, LINEN = MATERIALS.index("cotton"), MATERIALS.index("linen")
PLAIN = PATTERNS.index("plain")


def test_relevance_grades_by_hand():
    need = np.array([TSHIRT, RED, OPEN, COTTON, OPEN])
    items = np.array(
        [
            [TSHIRT, RED, PLAIN, COTTON, 3],  # every constraint: f = 1 -> 3
            [TSHIRT, PINK, PLAIN, COTTON, 3],  # pink is red's family: f = (0.5 + 1) / 2 -> 2
            [TSHIRT, BLUE, PLAIN, LINEN, 3],  # f = 0 -> 1
            [DRESS, RED, PLAIN, COTTON, 3],  # misses the category (the head) -> 0
            [-1, -1, -1, -1, -1],  # padding -> 0
        ]
    )
    assert relevance(need, items).tolist() == [3, 2, 1, 0, 0]
    brand_only = np.array([OPEN, OPEN, OPEN, OPEN, 3])
    assert relevance(brand_only, items).tolist() == [3, 3, 3, 3, 0]


def test_examination_is_a_power_law():
    # e_r = (r + 1) ** -0.9: e_0 = 1, e_1 = 2 ** -0.9 = 0.5359
    np.testing.assert_allclose(UserModel().examination(3), [1.0, 0.5359, 0.3720], atol=1e-4)


def test_hidden_truth_plays_the_user_model_role(tiny_world):
    assert isinstance(HiddenTruth.load(tiny_world / "truth"), UserModelRole)


def test_sampled_pages_match_the_exact_expectation(tiny_world):
    truth = HiddenTruth.load(tiny_world / "truth")
    rng = np.random.default_rng(5)
    n = 40_000
    query_ids = np.full(n, truth.query_ids[3], dtype=object)
    items = np.broadcast_to(rng.permutation(len(truth.items))[:10], (n, 10)).copy()
    feedback, stopped = truth.sample_page(query_ids, items, truth.new_users(n, rng), rng)
    expected = truth.expected_page(query_ids[:1], items[:1])
    for name in ("clicks", "purchases"):
        observed = getattr(feedback, name).mean(axis=0)
        se = np.sqrt(observed * (1 - observed) / n) + 1e-4
        assert np.all(np.abs(observed - getattr(expected, name)[0]) < 5 * se), name
    np.testing.assert_allclose(feedback.revenue.mean(), expected.revenue.sum() / 10, rtol=0.2)
    assert stopped.any() and not stopped.all()


def test_unknown_query_id_is_a_clear_error(tiny_world):
    truth = HiddenTruth.load(tiny_world / "truth")
    with pytest.raises(ValueError, match="unknown ShopWorld query id"):
        truth.query_index(["nope"])


def test_truth_round_trips_through_its_files(tiny_world, tmp_path):
    truth = HiddenTruth.load(tiny_world / "truth")
    truth.save(tmp_path / "t")
    again = HiddenTruth.load(tmp_path / "t")
    items = np.arange(20).reshape(2, 10)
    query = np.array([0, 1])
    np.testing.assert_array_equal(again.relevance(query, items), truth.relevance(query, items))
    assert again.model == truth.model
