"""Env steps and result pages per second, single and batched, against the simulator.

For each env (fusion, rerank, session) at K = 50: steps through the ordinary Gymnasium
API at batch 1 (``gymnasium.make``), and at batch 1024 through the stable-baselines3
``VecEnv`` (with its per-env info dicts) and through the numpy core alone. Pages per
second count the result pages the simulated users saw (a fusion or re-rank step may
browse up to ``max_pages``). The baseline, measured in the same run: the fitted
simulator's own ``sample_page_index`` on batches of 1024 pages of L = 10 from the same
candidate lists, the floor under every env step.

    python benchmarks/envs_speed.py                  # builds a small world in a temp folder
    python benchmarks/envs_speed.py --run runs/NAME  # a run with retrieval/ and simulator/
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import gymnasium as gym
import numpy as np

from fusionrank.datasets.shopworld.config import ShopWorldConfig
from fusionrank.datasets.shopworld.world import generate_world
from fusionrank.envs import ENV_IDS, EnvComponents, EnvConfig, load_components, make_core, make_env
from fusionrank.retrieval.config import RetrievalConfig
from fusionrank.retrieval.retriever import Retriever
from fusionrank.simulator.data import catalog_prices, load_fit_data
from fusionrank.simulator.fitting import fit_simulator

BATCH = 1024


def rate(step: Callable[[], tuple[int, int]], seconds: float) -> tuple[float, float]:
    """(steps/s, pages/s) of ``step``, which returns the steps and pages it took."""
    step()
    steps = pages = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        s, p = step()
        steps, pages = steps + s, pages + p
    elapsed = time.perf_counter() - started
    return steps / elapsed, pages / elapsed


def build(folder: Path, config: EnvConfig) -> EnvComponents:
    """A small ShopWorld, a text + lexical retriever and a fitted simulator."""
    generate_world(ShopWorldConfig(n_items=1000, n_pages=10_000, image_size=32), 0, folder)
    pages, catalog = load_fit_data(
        folder / "data" / "logs.parquet", folder / "data" / "catalog.parquet"
    )
    retriever = Retriever.build(catalog, RetrievalConfig(image=False), folder / "retrieval")
    simulator = fit_simulator(pages, retriever, catalog_prices(catalog))
    return EnvComponents.build(retriever, simulator, pages, config)


def single_step(components: EnvComponents, config: EnvConfig, kind: str):
    env = gym.make(ENV_IDS[kind], components=components, config=config)
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, dtype=np.float32)

    def step() -> tuple[int, int]:
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            env.reset()
        return 1, int(info["sim/pages"])

    return step


def batched_step(components: EnvComponents, config: EnvConfig, kind: str, sb3: bool):
    actions = np.random.default_rng(0).uniform(-1, 1, (BATCH, 1)).astype(np.float32)
    if sb3:
        venv = make_env(components, config, kind, BATCH, seed=0)
        venv.reset()
        acts = np.broadcast_to(actions, (BATCH, venv.action_space.shape[0])).copy()

        def step() -> tuple[int, int]:
            _, _, _, infos = venv.step(acts)
            return BATCH, int(sum(i["sim/pages"] for i in infos))

        return step
    core = make_core(components, config, kind, BATCH)
    core.seed(0)
    core.reset()
    acts = np.broadcast_to(actions, (BATCH, core.action_dim)).copy()

    def core_step() -> tuple[int, int]:
        return BATCH, int(core.step(acts).outcomes.pages.sum())

    return core_step


def baseline(components: EnvComponents, config: EnvConfig):
    rng = np.random.default_rng(1)
    rows = components.sample_rows(BATCH, rng)
    items = components.candidates.item_index[rows][:, : config.slate_size]
    query = components.sim_query[rows]

    def step() -> tuple[int, int]:
        components.simulator.sample_page_index(query, items, rng)
        return BATCH, BATCH

    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="Run folder with retrieval/ and simulator/.")
    parser.add_argument("--seconds", type=float, default=3.0, help="Timing per measurement.")
    args = parser.parse_args()
    config = EnvConfig(k=50, slate_size=10, max_pages=3)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        components = (
            load_components(args.run, config) if args.run else build(Path(tmp) / "world", config)
        )
    print(
        f"components: {components.n_queries} queries, pool {components.pool.size}, "
        f"K={components.candidates.k}, built in {time.perf_counter() - started:.1f} s"
    )
    _, base = rate(baseline(components, config), args.seconds)
    print(f"baseline simulator.sample_page_index, B={BATCH}, L=10: {base:,.0f} pages/s")
    print(f"{'env':<8} {'form':<22} {'steps/s':>12} {'pages/s':>12} {'pages/s / baseline':>19}")
    for kind in ("fusion", "rerank", "session"):
        forms = [
            ("gym API, batch 1", single_step(components, config, kind)),
            (f"SB3 VecEnv, batch {BATCH}", batched_step(components, config, kind, sb3=True)),
            (f"numpy core, batch {BATCH}", batched_step(components, config, kind, sb3=False)),
        ]
        for form, step in forms:
            steps, pages = rate(step, args.seconds)
            print(f"{kind:<8} {form:<22} {steps:>12,.0f} {pages:>12,.0f} {pages / base:>19.3f}")


if __name__ == "__main__":
    main()
