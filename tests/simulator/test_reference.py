"""The vectorised fits against the textbook per-session loop, and the models on CLARA2."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from fusionrank.simulator.click_models import make_click_model
from fusionrank.types import PAD

PEER_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "simulator_em_peer.py"


@pytest.fixture(scope="module")
def peer():
    spec = importlib.util.spec_from_file_location("simulator_em_peer", PEER_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["pbm", "ubm", "dbn", "cascade", "dcm", "sdbn"])
def test_vectorised_fit_equals_the_per_session_loop(name, peer, synthetic, make_pages):
    gamma = np.repeat(np.array([1.0, 0.6, 0.45, 0.35, 0.25])[:, None], 6, axis=1)
    pages, _ = synthetic("examination", 400, seed=21, gamma=gamma)
    items = pages.item_index.copy()
    items[::7, 2] = PAD  # an empty rank inside some pages, as CLARA2 has
    clicks = pages.clicks & (items >= 0)
    pages = make_pages(pages.query, items, clicks, n_items=len(pages.item_ids))
    model = make_click_model(name, n_iterations=4).fit(pages)
    sessions = peer.sessions_of(pages.query, pages.item_index, pages.clicks)
    if name in ("pbm", "ubm"):
        attr, exam = peer.fit_pbm(sessions, 4, ubm=name == "ubm")
        expected = peer.log_likelihood_pbm(sessions, attr, exam, ubm=name == "ubm")
    elif name == "dbn":
        attr, sat, g = peer.fit_dbn(sessions, 4)
        assert model.gamma == pytest.approx(g, rel=1e-12)

        def stop(q, item, rank):
            return peer._value(sat, (q, item))

        expected = peer.log_likelihood_chain(sessions, attr, stop, g, g)
    else:
        attr, sat = peer.fit_counting(sessions, name)
        stops = {
            "cascade": lambda q, item, rank: 1.0,
            "dcm": lambda q, item, rank: peer._value(sat, rank),
            "sdbn": lambda q, item, rank: peer._value(sat, (q, item)),
        }
        g_click = 0.0 if name == "cascade" else 1.0
        expected = peer.log_likelihood_chain(sessions, attr, stops[name], g_click, 1.0)
    table = model.table
    for row, key in enumerate(table.keys.tolist()):
        pair = (key // table.n_items, key % table.n_items)
        assert model.pair_values["attractiveness"][row] == pytest.approx(
            peer._value(attr, pair), rel=1e-9
        )
    assert model.log_likelihood(pages).mean == pytest.approx(expected, rel=1e-9)


def test_click_models_beat_the_baselines_on_clara2(shared_data):
    from fusionrank.datasets import load_clara2_log, logs_to_pages

    pages = logs_to_pages(load_clara2_log(shared_data / "clara2" / "CLARA2SearchLog_beta"))
    cut = int(0.75 * len(pages))
    train = pages.subset(np.arange(len(pages)) < cut)
    test = pages.subset(np.arange(len(pages)) >= cut)
    test = test.subset(np.isin(test.query, train.query))
    assert (len(train), len(test)) == (23_673, 7_236)
    ll = {
        name: make_click_model(name, n_iterations=20).fit(train).log_likelihood(test).mean
        for name in ("ubm", "pbm", "rank_ctr", "global_ctr")
    }
    assert ll["ubm"] > ll["rank_ctr"] > ll["global_ctr"]
    assert ll["pbm"] > ll["rank_ctr"]


def test_pbm_position_bias_on_obd_matches_the_ratio_estimate(shared_data):
    # Under OBD's uniformly random policy, CTR(slot r) / CTR(slot 1) estimates e_r / e_1;
    # PBM's EM must land on the same ratios.
    import pandas as pd

    from fusionrank.datasets import load_obd, logs_to_pages

    frames = []
    for campaign in ("all", "men", "women"):
        frame = load_obd(shared_data / "obd", policy="random", campaign=campaign)
        frame["session_id"] = campaign + "-" + frame["session_id"].astype(str)
        frames.append(frame)
    pages = logs_to_pages(pd.concat(frames, ignore_index=True))
    ctr = pages.clicks.sum(axis=0) / pages.shown.sum(axis=0)
    pbm = make_click_model("pbm", prior=(0.01, 0.02), n_iterations=300).fit(pages)
    np.testing.assert_allclose(pbm.examination / pbm.examination[0], ctr / ctr[0], rtol=0.05)
