import re

import numpy as np
import pytest

from fusionrank.types import PAD, CandidateBatch, CandidateList, Feedback, Query, Rankings


def candidates(k=4, mask=None):
    mask = np.ones(k, dtype=bool) if mask is None else np.asarray(mask)
    return CandidateList(
        query=Query("q1", "red shirt"),
        item_index=np.where(mask, np.arange(k), PAD).astype(np.int64),
        modality_scores=np.zeros((k, 2), dtype=np.float32),
        features=np.zeros((k, 3), dtype=np.float32),
        mask=mask,
        modality_names=("text", "image"),
        feature_names=("a", "b", "c"),
    )


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"item_index": np.arange(4)[None]}, ValueError, "item_index must have 1 dimension(s)"),
        (
            {"item_index": np.arange(4, dtype=np.int32)},
            TypeError,
            "item_index must have dtype int64",
        ),
        (
            {"modality_scores": np.zeros((4, 3), dtype=np.float32)},
            ValueError,
            "modality_scores must have shape (4, 2), got (4, 3)",
        ),
        ({"features": np.zeros((4, 3))}, TypeError, "features must have dtype float32"),
        ({"mask": np.ones(3, dtype=bool)}, ValueError, "mask must have shape (4,), got (3,)"),
        (
            {"item_index": np.array([0, -1, 2, 3], dtype=np.int64)},
            ValueError,
            "item_index must be >= 0 where mask is True",
        ),
    ],
)
def test_candidate_list_rejects_bad_arrays(change, error, message):
    good = candidates()
    fields = {name: getattr(good, name) for name in good.__dataclass_fields__}
    with pytest.raises(error, match=re.escape(message)):
        CandidateList(**{**fields, **change})


def test_query_text_must_not_be_blank():
    with pytest.raises(ValueError, match="Query 'q9': text is empty"):
        Query("q9", "   ")


def test_batch_pads_lists_to_k_and_gives_them_back():
    short = candidates(2)
    batch = CandidateBatch.from_lists([candidates(4), short], k=5)
    assert batch.item_index.tolist() == [[0, 1, 2, 3, PAD], [0, 1, PAD, PAD, PAD]]
    assert batch.mask.sum(axis=1).tolist() == [4, 2]
    assert np.array_equal(batch[1].item_index[:2], short.item_index)
    with pytest.raises(ValueError, match="has 4 candidates, more than k=3"):
        CandidateBatch.from_lists([candidates(4)], k=3)


def test_rankings_from_scores_sort_descending_and_never_rank_padding():
    scores = np.array([[0.1, 0.9, 0.5, 7.0], [3.0, 2.0, 1.0, 0.0]])
    mask = np.array([[True, True, True, False], [True, False, True, True]])
    rankings = Rankings.from_scores(scores, mask, slate_size=4)
    # Row 0: slot 3 is padding although it has the best score.
    assert rankings.order.tolist() == [[1, 2, 0, PAD], [0, 2, 3, PAD]]


def test_rankings_are_permutations_of_unmasked_candidates_for_random_inputs():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(200, 12))
    scores[rng.random(scores.shape) < 0.05] = np.nan
    mask = rng.random((200, 12)) < 0.7
    order = Rankings.from_scores(scores, mask, slate_size=12).order
    for row in range(200):
        shown = order[row][order[row] >= 0]
        assert sorted(shown.tolist()) == np.flatnonzero(mask[row]).tolist()


def test_rankings_reject_repeated_slots_and_gaps():
    with pytest.raises(ValueError, match="appears twice"):
        Rankings(np.array([[1, 1, 0]], dtype=np.int64))
    with pytest.raises(ValueError, match="PAD rank is followed by a real slot"):
        Rankings(np.array([[1, PAD, 0]], dtype=np.int64))


def test_feedback_rejects_purchase_without_click():
    items = np.array([[4, 5]], dtype=np.int64)
    with pytest.raises(ValueError, match="a purchase without a click"):
        Feedback(
            item_index=items,
            clicks=np.array([[False, False]]),
            purchases=np.array([[True, False]]),
            revenue=np.array([[3.0, 0.0]]),
            abandoned=np.array([False]),
        )
