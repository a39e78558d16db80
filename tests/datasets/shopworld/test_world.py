import hashlib
import re

import numpy as np
import pandas as pd
import pytest

from fusionrank.datasets.shopworld.needs import INTENTS, MIN_RELEVANT
from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.datasets.shopworld.vocab import COLOURS, MATERIALS, PATTERN_SYNONYMS, PATTERNS
from fusionrank.datasets.shopworld.world import generate_world, logging_policy
from tests.conftest import TINY_SEED, TINY_WORLD


def digests(folder):
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "summary.json"  # the summary records the run time
    }


def test_same_seed_gives_byte_identical_files_and_another_seed_differs(tiny_world, tmp_path):
    again = tmp_path / "again"
    generate_world(TINY_WORLD, TINY_SEED, again)
    assert digests(again) == digests(tiny_world)
    other = tmp_path / "other"
    generate_world(TINY_WORLD, TINY_SEED + 1, other)
    for name in ("data/catalog.parquet", "data/logs.parquet", "data/images/SW000000.png"):
        assert digests(other)[name] != digests(tiny_world)[name]


def test_files_users_get_are_apart_from_the_truth(tiny_world):
    assert sorted(p.name for p in (tiny_world / "data").iterdir()) == [
        "catalog.parquet",
        "images",
        "logs.parquet",
    ]
    catalog = pd.read_parquet(tiny_world / "data" / "catalog.parquet")
    assert not {"colour", "pattern", "material", "appeal"} & set(catalog.columns)
    assert len(list((tiny_world / "data" / "images").glob("*.png"))) == len(catalog)


def test_click_through_decays_with_rank(tiny_world):
    logs = pd.read_parquet(tiny_world / "data" / "logs.parquet")
    ctr = np.stack(logs["clicks"].to_numpy()).mean(axis=0)
    assert ctr[0] > ctr[1] > ctr[4] > ctr[-1]
    assert ctr[0] > 2 * ctr[-1]


def test_logged_propensities_are_the_policys_exact_marginals(tiny_world):
    truth = HiddenTruth.load(tiny_world / "truth")
    catalog = pd.read_parquet(tiny_world / "data" / "catalog.parquet")
    policy = logging_policy(truth, catalog, TINY_WORLD, TINY_SEED)
    n_ranks = TINY_WORLD.slate_size * TINY_WORLD.max_pages
    # Every rank is filled by exactly one item: each rank's marginals sum to 1.
    np.testing.assert_allclose(policy.marginals.sum(axis=1), 1.0, atol=1e-6)
    assert np.all(policy.marginals.sum(axis=2) <= 1 + 1e-6)
    logs = pd.read_parquet(tiny_world / "data" / "logs.parquet")
    query = truth.query_index(logs["query_id"].to_numpy(object))
    items = catalog.set_index("item_id").index.get_indexer(np.concatenate(logs["item_ids"]))
    items = items.reshape(len(logs), -1)
    rank = logs["page"].to_numpy()[:, None] * TINY_WORLD.slate_size + np.arange(10)
    pool_position = (policy.pool[query][:, :, None] == items[:, None, :]).argmax(axis=1)
    expected = policy.marginals[query[:, None], pool_position, rank]
    np.testing.assert_allclose(np.stack(logs["propensities"].to_numpy()), expected)
    assert rank.max() < n_ranks


def test_every_query_has_relevant_products(tiny_world):
    truth = HiddenTruth.load(tiny_world / "truth")
    all_items = np.broadcast_to(np.arange(len(truth.items)), (truth.n_queries, len(truth.items)))
    grades = truth.relevance(np.arange(truth.n_queries), np.ascontiguousarray(all_items))
    assert ((grades == 3).sum(axis=1) >= MIN_RELEVANT).all()


def _names(text, phrases):
    return any(re.search(rf"\b{re.escape(p)}\b", text) for p in phrases)


def test_image_only_share_is_the_configured_one_and_true_of_the_text(tiny_world):
    truth = HiddenTruth.load(tiny_world / "truth")
    catalog = pd.read_parquet(tiny_world / "data" / "catalog.parquet")
    texts = (catalog["title"] + " " + catalog["description"]).str.lower().to_numpy()
    image_only = truth.needs.image_only[truth.query_need]
    assert image_only.mean() == pytest.approx(TINY_WORLD.image_only_query_share)
    items = truth.items
    for need, constraints in enumerate(truth.needs.constraints):
        relevant = np.flatnonzero(
            truth.relevance(
                np.array([np.flatnonzero(truth.query_need == need)[0]]), np.arange(len(items))[None]
            )[0]
            == 3
        )
        named = []
        for i in relevant:
            checks = [True]
            if constraints[1] >= 0:
                checks.append(_names(texts[i], COLOURS[items.colour[i]].synonyms))
            if constraints[2] >= 0:
                checks.append(_names(texts[i], PATTERN_SYNONYMS[PATTERNS[items.pattern[i]]]))
            if constraints[3] >= 0:
                checks.append(_names(texts[i], (MATERIALS[items.material[i]],)))
            named.append(all(checks))
        assert truth.needs.image_only[need] == (not any(named)), f"need {need}"


def test_intents_follow_the_configured_shares(tiny_world):
    truth = HiddenTruth.load(tiny_world / "truth")
    counts = np.bincount(truth.needs.intent, minlength=len(INTENTS))
    shares = TINY_WORLD.intents.model_dump()
    assert counts.tolist() == [round(shares[i] * TINY_WORLD.n_needs) for i in INTENTS]


def test_too_many_needs_for_the_catalog_is_a_clear_error(tmp_path):
    config = TINY_WORLD.model_copy(update={"n_items": 60, "n_needs": 400})
    with pytest.raises(ValueError, match=r"raise world.n_items or lower world.n_needs"):
        generate_world(config, 0, tmp_path / "w")
    assert not (tmp_path / "w").exists()


@pytest.mark.slow
def test_a_hundred_thousand_items_without_images(tmp_path):
    config = TINY_WORLD.model_copy(
        update={"n_items": 100_000, "images": False, "n_needs": 200, "n_pages": 5000}
    )
    summary = generate_world(config, 0, tmp_path / "big")
    assert summary["n_items"] == 100_000
    assert not (tmp_path / "big" / "data" / "images").exists()
