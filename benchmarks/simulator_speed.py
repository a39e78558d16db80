"""How many result pages per second the fitted simulator answers.

``UserSimulator.sample_page`` on batches of B = 1024 pages of L = 10 (the logged first
pages of ShopWorld queries), beside two peers measured in the same run: ShopWorld's
hidden truth (``HiddenTruth.sample_page``, batched numpy too), and the same simulator's
parameters sampled page by page in a plain Python loop (how a per-session simulator
works). Also ``expected_page`` and a cold cache (new query-item pairs each batch).

    python benchmarks/simulator_speed.py
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fusionrank.datasets.shopworld.config import ShopWorldConfig
from fusionrank.datasets.shopworld.truth import HiddenTruth
from fusionrank.datasets.shopworld.world import generate_world
from fusionrank.simulator.config import SimulatorConfig
from fusionrank.simulator.data import catalog_prices, load_fit_data
from fusionrank.simulator.featurizer import CatalogFeaturizer
from fusionrank.simulator.fitting import fit_simulator

BATCH = 1024


def rate(step: Callable[[], int], seconds: float = 2.0) -> float:
    """Pages per second of ``step`` (which returns how many pages it answered)."""
    step()
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        done += step()
    return done / (time.perf_counter() - started)


def python_loop_sampler(simulator, query, items, rng) -> Callable[[], int]:
    """The same chain of clicks, sampled one page and one rank at a time in Python."""
    page, purchase = simulator.page(query, items)
    attract, stop = page.attractiveness.tolist(), page.satisfaction.tolist()
    go_on = page.continue_click.tolist()
    buy = purchase.tolist()

    def step() -> int:
        for a_row, s_row, g_row, b_row in zip(attract, stop, go_on, buy, strict=True):
            for a, s, g, b in zip(a_row, s_row, g_row, b_row, strict=True):
                if rng.random() < a:
                    if rng.random() < b or rng.random() < s:
                        break
                if rng.random() >= g:
                    break
        return len(attract)

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="a generated world folder (default: new)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        world = args.world
        if world is None:
            world = Path(tmp) / "world"
            generate_world(ShopWorldConfig(images=False), 0, world)
        run(world)


def run(world: Path) -> None:
    data = world / "data"
    pages, catalog = load_fit_data(data / "logs.parquet", data / "catalog.parquet")
    truth = HiddenTruth.load(world / "truth")
    rng = np.random.default_rng(0)
    first = np.flatnonzero(pages.page == 0)[:BATCH]
    query_ids, items = pages.query_ids[pages.query[first]], pages.item_index[first]
    print(f"batches of {BATCH} pages x {items.shape[1]} ranks, result pages per second")
    for model in ("dbn", "ubm"):
        simulator = fit_simulator(
            pages,
            CatalogFeaturizer(catalog),
            catalog_prices(catalog),
            SimulatorConfig(click_model=model),
        )
        users = simulator.new_users(BATCH, rng)
        query = simulator.query_index(query_ids)
        segments = truth.new_users(BATCH, rng)
        ours = rate(lambda s=simulator, u=users: len(s.sample_page(query_ids, items, u, rng)[1]))
        expected = rate(lambda s=simulator: s.expected_page(query_ids, items).clicks.shape[0])
        peer = rate(lambda u=segments: len(truth.sample_page(query_ids, items, u, rng)[1]))
        line = (
            f"{model}: sample_page {ours:12,.0f}   expected_page {expected:12,.0f}   "
            f"HiddenTruth.sample_page {peer:10,.0f} ({ours / peer:.1f}x)"
        )
        if model == "dbn":
            loop = rate(python_loop_sampler(simulator, query, items, rng))
            line += f"   Python page loop {loop:9,.0f} ({ours / loop:.0f}x)"
        print(line)
    cold_items = np.random.default_rng(1).integers(0, len(catalog), size=items.shape)

    def cold() -> int:
        cold_items[:] = np.random.default_rng(cold_items[0, 0]).integers(
            0, len(catalog), size=items.shape
        )
        return len(simulator.sample_page(query_ids, cold_items, users, rng)[1])

    print(f"cold cache (random catalog items, features computed): {rate(cold, 4.0):,.0f}")


if __name__ == "__main__":
    main()
