"""Why PPO does not beat LambdaMART: the same re-rank problem solved three ways in the same
fitted simulator, each valued exactly (no sampling noise) in the fitted simulator, in the
held-out-logs simulator and on ShopWorld's hidden users.

1. PPO as the demo trains it: Gaussian noise on K scores, one sampled user per step
   (``envs.reward_mode=sampled``), 600,000 steps;
2. the same PPO with exact expected rewards (``envs.reward_mode=expected``);
3. PG-Rank: a Plackett-Luce policy with exact rewards (``agents.pgrank``), 300 steps.

The values are expected purchases of a session's first query (up to 3 pages, no
rewording), weighted by the logged traffic; the baselines are valued the same way. It
reads a run prepared by ``policy_transfer.py`` (``--run``, default the cached ``tune-a``).

    python benchmarks/policy_diagnosis.py --run ~/.cache/fusionrank/policy_transfer/runs/tune-a
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from fusionrank.evaluation.ab import SessionSettings

BASELINES = ("logging", "default-order", "static-fusion", "lambdamart", "lambdamart-position")


class Judges:
    """Exact first-query values of rankings in three worlds."""

    def __init__(self, run: Path) -> None:
        from fusionrank.evaluation.context import SIMULATOR, TRUTH, load_run_worlds
        from fusionrank.runs import RunFolder
        from fusionrank.simulator.user_simulator import UserSimulator

        self.run = run
        self.worlds = load_run_worlds(run, SessionSettings(), truth=True)
        self.sim, self.truth = self.worlds.users[SIMULATOR], self.worlds.users[TRUTH]
        folder = RunFolder(run).simulator.validation
        self.held_out = UserSimulator.load(folder, self.worlds.retriever)
        self.ids = np.asarray(self.worlds.sampler.query_ids, dtype=object)
        texts = {q.query_id: q.text for q in self.worlds.queries}
        self.held_out.add_queries(self.ids, np.array([texts[str(q)] for q in self.ids], object))
        self.weights = self.worlds.sampler.weights

    def simulated(self, simulator, ranked: np.ndarray, pages: int = 3, size: int = 10) -> float:
        query = simulator.query_index(self.ids)
        reach, total = np.ones(len(query)), np.zeros(len(query))
        for p in range(pages):
            page, purchase = simulator.page(query, ranked[:, p * size : (p + 1) * size])
            _, purchases, stopped = page.expected(purchase)
            total += reach * purchases.sum(1)
            reach = reach * (1 - stopped) * (simulator.session.p_next if p + 1 < pages else 0)
        return float(self.weights @ total)

    def true(self, ranked: np.ndarray, pages: int = 3, size: int = 10) -> float:
        query, model = self.truth.query_index(self.ids), self.truth.model
        share = np.asarray(model.segment_share)
        reach = np.ones((len(query), len(share)))
        total = np.zeros_like(reach)
        for p in range(pages):
            probs = self.truth.page_probabilities(query, ranked[:, p * size : (p + 1) * size])
            click = probs.examination[None, :, None] * probs.attractiveness
            survive = 1 - click * probs.stop
            inside = np.cumprod(
                np.concatenate([np.ones_like(survive[:, :1]), survive[:, :-1]], 1), 1
            )
            total += reach * (inside * click * probs.purchase).sum(1)
            more = model.p_next_page if p + 1 < pages else 0.0
            reach = reach * survive.prod(1) * more
        return float(self.weights @ (total @ share))

    def row(self, name: str, policy) -> str:
        from fusionrank.evaluation.policies import policy_ranker

        ranked = policy_ranker(policy, self.worlds.retriever, self.worlds.queries, 30)(self.ids)
        values = (self.simulated(self.sim, ranked), self.simulated(self.held_out, ranked))
        return f"| {name} | {values[0]:.4f} | {values[1]:.4f} | {self.true(ranked):.4f} |"


def train_all(run: Path, steps: int, out: Path) -> dict[str, tuple[object, float]]:
    from fusionrank.agents.pgrank_train import train_pg_policy
    from fusionrank.agents.train import agent_envs, train_ppo
    from fusionrank.config import load_config
    from fusionrank.envs.components import load_components
    from fusionrank.runs import RunFolder

    config = load_config(RunFolder(run).config_path)
    agents = config.agents.model_copy(update={"torch_threads": 1})
    trained: dict[str, tuple[object, float]] = {}
    for mode in ("sampled", "expected"):
        env_config = config.envs.model_copy(update={"reward_mode": mode})
        components = load_components(run, env_config)
        envs = agent_envs(components, env_config, "rerank", agents.n_envs, 7)
        started = time.perf_counter()
        result = train_ppo(envs, agents, 3, out / f"ppo-{mode}", steps)
        trained[f"PPO, {mode} rewards"] = (result.policy, time.perf_counter() - started)
    env_config = config.envs.model_copy(update={"reward_mode": "expected", "k": 30})
    components = load_components(run, env_config)
    started = time.perf_counter()
    pg = train_pg_policy(components, env_config, agents, 3, out / "pg-rerank")
    trained["PG-Rank, expected rewards"] = (pg.policy, time.perf_counter() - started)
    return trained


def main() -> None:
    from fusionrank.evaluation.policies import resolve_policy

    default = Path(
        os.environ.get("FUSIONRANK_BENCH_CACHE")
        or Path.home() / ".cache" / "fusionrank" / "policy_transfer"
    )
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, default=default / "runs" / "tune-a")
    parser.add_argument("--steps", type=int, default=600_000, help="PPO env steps")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(1)
    judges = Judges(args.run)
    print("| policy | fitted simulator | held-out simulator | hidden users | train seconds |")
    print("|---|---|---|---|---|")
    for name in (*BASELINES, "oracle"):
        policy = resolve_policy(name, args.run, judges.worlds.retriever, judges.worlds.pages)
        print(judges.row(name, policy) + " – |")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (policy, seconds) in train_all(args.run, args.steps, Path(tmp)).items():
            print(judges.row(name, policy) + f" {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
