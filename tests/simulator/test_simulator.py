"""The user simulator on a tiny ShopWorld: protocol, sampling, storage, recovery, report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fusionrank.datasets.shopworld.config import ShopWorldConfig
from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.datasets.shopworld.world import generate_world
from fusionrank.protocols import UserModel
from fusionrank.simulator.config import SimulatorConfig
from fusionrank.simulator.data import Split, catalog_prices, load_fit_data, split_sessions
from fusionrank.simulator.featurizer import CatalogFeaturizer
from fusionrank.simulator.fidelity import fidelity_figures
from fusionrank.simulator.fitting import fit_simulator
from fusionrank.simulator.report import write_report
from fusionrank.simulator.user_simulator import UserSimulator
from fusionrank.types import PAD, Catalog


@pytest.fixture(scope="module")
def world_data(tiny_world: Path) -> tuple[Split, Catalog, CatalogFeaturizer]:
    data = tiny_world / "data"
    pages, catalog = load_fit_data(data / "logs.parquet", data / "catalog.parquet")
    return split_sessions(pages, 0.25), catalog, CatalogFeaturizer(catalog)


@pytest.fixture(scope="module")
def simulator(world_data) -> UserSimulator:
    split, catalog, featurizer = world_data
    config = SimulatorConfig(click_model="dbn", em_iterations=20)
    return fit_simulator(split.train, featurizer, catalog_prices(catalog), config)


def first_pages(split: Split, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rows = np.flatnonzero(split.held_out.page == 0)[:n]
    return split.held_out.query_ids[split.held_out.query[rows]], split.held_out.item_index[rows]


def test_plays_the_user_model_role(simulator, world_data):
    split, _, _ = world_data
    assert isinstance(simulator, UserModel)
    query_ids, items = first_pages(split)
    items = items.copy()
    items[0, 5:] = PAD
    rng = np.random.default_rng(0)
    users = simulator.new_users(len(items), rng)
    assert users.dtype == np.int64 and not users.any()
    feedback, stopped = simulator.sample_page(query_ids, items, users, rng)
    assert feedback.clicks.shape == items.shape and stopped.dtype == bool
    assert not feedback.clicks[0, 5:].any()
    assert np.all(feedback.revenue[feedback.purchases] > 0)
    # DBN: a page where the user stopped has a click; stopping needs one.
    assert np.all(feedback.clicks[stopped].any(axis=1))
    again, stopped_again = simulator.sample_page(query_ids, items, users, np.random.default_rng(0))
    np.testing.assert_array_equal(again.clicks, feedback.clicks)
    np.testing.assert_array_equal(stopped_again, stopped)
    next_page, reformulate = simulator.next_step(
        np.ones(1000, bool), np.ones(1000, bool), np.random.default_rng(1)
    )
    assert not np.any(next_page & reformulate)
    assert next_page.mean() == pytest.approx(simulator.session.p_next, abs=0.05)


def test_expected_page_matches_samples(simulator, world_data):
    split, _, _ = world_data
    query_ids, items = first_pages(split, 8)
    query_ids, items = np.repeat(query_ids, 3000), np.repeat(items, 3000, axis=0)
    expected = simulator.expected_page(query_ids, items)
    feedback, _ = simulator.sample_page(
        query_ids,
        items,
        simulator.new_users(len(items), np.random.default_rng(0)),
        np.random.default_rng(2),
    )
    assert np.all((expected.clicks >= 0) & (expected.clicks <= 1))
    np.testing.assert_allclose(
        feedback.clicks.mean(axis=0), expected.clicks.mean(axis=0), atol=0.015
    )
    assert feedback.revenue.mean() == pytest.approx(expected.revenue.mean(), rel=0.15)


def test_unknown_queries_need_texts_and_unseen_items_use_features(simulator):
    with pytest.raises(ValueError, match="call add_queries"):
        simulator.query_index(np.array(["never-seen"], dtype=object))
    simulator.add_queries(["never-seen"], ["red hat"])
    probs = simulator.expected_page(np.array(["never-seen"], object), np.array([[0, 1, 2]]))
    assert np.all((probs.clicks > 0) & (probs.clicks < 1))


def test_save_and_load_round_trip(simulator, world_data, tmp_path):
    split, _, featurizer = world_data
    simulator.save(tmp_path / "sim")
    loaded = UserSimulator.load(tmp_path / "sim", featurizer)
    query_ids, items = first_pages(split)
    np.testing.assert_allclose(
        loaded.expected_page(query_ids, items).clicks,
        simulator.expected_page(query_ids, items).clicks,
    )
    assert loaded.session == simulator.session
    with pytest.raises(ValueError, match="load it with the featurizer it was fitted with"):
        UserSimulator.load(tmp_path / "sim", None)
    with pytest.raises(ValueError, match="holds no user simulator"):
        UserSimulator.load(tmp_path, featurizer)


@pytest.fixture(scope="module")
def medium_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ShopWorld with 20,000 logged pages and no images (under a second)."""
    folder = tmp_path_factory.mktemp("medium") / "world"
    config = ShopWorldConfig(
        n_items=300, n_needs=30, n_pages=20_000, images=False, candidate_pool=40
    )
    generate_world(config, 5, folder)
    return folder


def test_ubm_recovers_shopworld_position_bias(medium_world):
    data = medium_world / "data"
    pages, catalog = load_fit_data(data / "logs.parquet", data / "catalog.parquet")
    simulator = fit_simulator(
        pages, CatalogFeaturizer(catalog), catalog_prices(catalog), SimulatorConfig()
    )
    truth = HiddenTruth.load(medium_world / "truth")
    gamma = simulator.click_model.examination[:, 0]
    # The truth examines rank r with (r + 1)^-0.9 = 1, 0.536, 0.372, 0.287, 0.235, ...
    np.testing.assert_allclose(gamma / gamma[0], truth.model.examination(10), atol=0.05)
    ll, _ = simulator.evaluate(pages)
    assert np.isfinite(ll.mean) and ll.mean < 0


def test_fidelity_report_is_written(simulator, world_data, tmp_path):
    split, _, _ = world_data
    figures = fidelity_figures(
        split.train,
        split.held_out,
        simulator,
        np.random.default_rng(0),
        ["pbm", "rank_ctr", "global_ctr"],
    )
    models = figures["models"]
    assert set(models) == {"simulator", "pbm", "rank_ctr", "global_ctr"}
    # The fitted simulator must beat the global click-through rate on held-out pages.
    assert models["simulator"]["log_likelihood"] > models["global_ctr"]["log_likelihood"]
    observed = figures["sessions"]["observed"]
    assert observed["sessions"] > 0 and 1 <= observed["pages_per_session"] <= 3
    path = write_report(figures, tmp_path / "report")
    html = path.read_text()
    assert "rank_ctr" in html and "data:image/png;base64," in html
    assert (tmp_path / "report" / "figures.json").is_file()
    assert (tmp_path / "report" / "ctr_per_rank.png").stat().st_size > 1000
