"""Do policies trained in the fitted simulator help ShopWorld's hidden users, and does the
simulator foresee it? Several worlds x 3 training seeds.

For each world (a seed and ShopWorld variants: intent mix, catalog size, image-only share,
logging temperature, brands) it runs the pipeline's first stages once (world, CLIP, index,
simulator, baselines) and fits a simulator ensemble on bootstrap resamples of the logs;
then for each training seed it trains the learned policies (PPO as the demo does, and
PG-Rank with and without the residual start on LambdaMART) in the fitted simulator and
evaluates every policy on the same simulated traffic in the simulator and on the hidden
users (:func:`~fusionrank.evaluation.compare.compare_policies`). It prints, per world and
policy: simulated and true purchases per session, the share of the logging-to-oracle gap
closed, the paired lift over the best supervised ranker (chosen in the simulator) with its
95 % interval, the simulator's predicted lift over logging beside the true one (error and
whether the ensemble's interval covers it), and per world the Kendall tau between the
simulated and true order of the policies.

Hyper-parameters were chosen on the fitted simulators of the ``tune`` worlds only; the
``report`` worlds (the default world among them) were not looked at before choosing.

Resumable: every stage writes its result under ``--cache`` (default
``$FUSIONRANK_BENCH_CACHE`` or ``~/.cache/fusionrank/policy_transfer``, outside the
repository) and a rerun skips what exists, so an interrupted run goes on where it stopped.

    python benchmarks/policy_transfer.py                       # every world, seeds 0 1 2
    python benchmarks/policy_transfer.py --worlds default --seeds 0
    python benchmarks/policy_transfer.py --table-only          # print what is cached
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fusionrank.io import read_json, write_json

logger = logging.getLogger("policy_transfer")

COMMON = ("retrieval.threads=1",)
"""Every world but the default: one retrieval thread (the build machine's 2 cores are
shared); the default world keeps every default, so it is exactly ``fusionrank demo``'s."""


@dataclass(frozen=True)
class World:
    """A ShopWorld variant: its root seed, ``--set`` overrides and its role."""

    seed: int
    overrides: tuple[str, ...]
    role: str  # "tune": hyper-parameters chosen on its simulator; "report": never looked at


SMALL = (
    "world.n_items=1500",
    "world.n_needs=120",
    "world.n_pages=20000",
    "retrieval.clip.steps=150",
    "retrieval.clip.warmup_steps=10",
)
"""The tuning worlds are small (a 1,500-item catalog, 20,000 logged pages, a shorter CLIP
training): the build machine's 2 shared cores could not afford five full worlds."""

WORLDS = {
    "default": World(0, (), "report"),
    "tune-a": World(
        11,
        (
            *SMALL,
            "world.intents={visual: 0.2, textual: 0.35, mixed: 0.3, broad: 0.15}",
            "world.logging_temperature=0.2",
        ),
        "tune",
    ),
    "tune-b": World(
        12,
        (
            *SMALL,
            "world.image_only_query_share=0.3",
            "world.n_brands=60",
            "world.logging_temperature=0.05",
        ),
        "tune",
    ),
    "report-a": World(
        21,
        (
            "world.intents={visual: 0.4, textual: 0.2, mixed: 0.25, broad: 0.15}",
            "world.n_items=3000",
            "world.logging_temperature=0.15",
        ),
        "report",
    ),
    "report-b": World(
        22,
        (
            "world.image_only_query_share=0.1",
            "world.n_needs=400",
            "world.query_zipf_exponent=1.2",
            "world.n_brands=80",
        ),
        "report",
    ),
}

BASELINES = ("default-order", "static-fusion", "lambdamart", "lambdamart-position")

POLICIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ppo-rerank": ("ppo", ()),
    "ppo-fusion": ("ppo-fusion", ()),
    "pg-rerank": ("pg", ()),
    "residual-rerank": (
        "pg",
        ("agents.pgrank.inputs=[lambdamart]", "agents.pgrank.start=lambdamart"),
    ),
    "belief-rerank": (
        "pg",
        ("agents.pgrank.inputs=[lambdamart, beliefs]", "agents.pgrank.start=lambdamart"),
    ),
    "pg-joint": ("pg-joint", ()),
    "belief-pessimistic": (
        "pg-ensemble",
        (
            "agents.pgrank.inputs=[lambdamart, beliefs]",
            "agents.pgrank.start=lambdamart",
            "agents.pgrank.pessimism=1.0",
        ),
    ),
}
"""Learned policy -> (trainer, its ``--set`` overrides on the world's config). PG-Rank
policies train on the evaluation's candidate lists (``envs.k`` = slate x pages = 30) with
exact rewards; the residual ones start from the supervised ranker that is best in the
validation simulator (fitted on held-out logs)."""


def cache_root(given: str | None) -> Path:
    default = Path.home() / ".cache" / "fusionrank" / "policy_transfer"
    return Path(given or os.environ.get("FUSIONRANK_BENCH_CACHE") or default)


def world_config(name: str, cache: Path, extra: tuple[str, ...] = ()):
    """The world's resolved run config (runs under ``cache/runs``)."""
    from fusionrank.config import load_config

    world = WORLDS[name]
    overrides = [
        *(COMMON if name != "default" else ()),
        "agents.torch_threads=1",
        *world.overrides,
        f"runs_dir={cache / 'runs'}",
        f"name={name}",
        f"seed={world.seed}",
        *extra,
    ]
    return load_config(None, overrides), overrides


def prepare_world(name: str, cache: Path, members: int) -> Path:
    """The pipeline's stages world .. baselines, the simulator's companions among them
    (a held-out simulator and a ``members``-simulator bootstrap ensemble); reused when
    they are done and unchanged."""
    from fusionrank.pipeline import STAGES, resolve_inputs
    from fusionrank.runs import RunFolder
    from fusionrank.stages import StageContext, run_stages

    config, _ = world_config(name, cache, (f"simulator.ensemble_members={members}",))
    run = RunFolder(config.run_dir)
    inputs = resolve_inputs(run, config)
    run.save_config(config)
    wanted = ("world", "clip", "index", "simulator", "ensemble", "baselines")
    run_stages(StageContext(run, config, inputs), tuple(s for s in STAGES if s.name in wanted))
    return run.path


def train_policy(run: Path, name: str, world: str, seed: int, cache: Path, out: Path) -> float:
    """Train one learned policy of :data:`POLICIES` with training seed ``seed``."""
    from fusionrank.agents.policy import load_policy
    from fusionrank.agents.stages import pg_env_config
    from fusionrank.agents.train import agent_envs, train_ppo
    from fusionrank.envs.components import load_components
    from fusionrank.runs import RunFolder
    from fusionrank.seeding import int_seed
    from fusionrank.simulator.ensemble import SimulatorEnsemble

    trainer, extra = POLICIES[name]
    config, _ = world_config(world, cache, extra)
    # PG-Rank trains as the pipeline's pg-joint stage does: exact rewards, slate x pages slots.
    envs = pg_env_config(config.envs) if "pg" in trainer else config.envs
    components = load_components(run, envs)
    agent_seed, env_seed = int_seed(seed, "agent"), int_seed(seed, "env")
    started = time.perf_counter()
    if trainer in ("ppo", "ppo-fusion"):
        kind = "rerank" if trainer == "ppo" else "fusion"
        vec = agent_envs(components, envs, kind, config.agents.n_envs, env_seed)
        train_ppo(vec, config.agents, agent_seed, out)
    elif trainer == "pg-joint":
        from fusionrank.agents.pgrank_train import train_joint_policy

        train_joint_policy(components, envs, config.agents, agent_seed, out, None, name)
    else:
        from fusionrank.agents.pgrank_train import best_by_value, simulator_value, train_pg_policy
        from fusionrank.simulator.user_simulator import UserSimulator

        members = None
        if trainer == "pg-ensemble":
            folder = RunFolder(run).simulator.ensemble
            members = SimulatorEnsemble.load(folder, components.retriever)
            members = list(members.members)
        held_out = UserSimulator.load(RunFolder(run).simulator.validation, components.retriever)
        policies = RunFolder(run).policies
        supervised = [
            load_policy(policies.of(b))
            for b in ("lambdamart", "lambdamart-position")
            if policies.of(b).is_dir()
        ]
        validation = simulator_value(components, envs, [held_out])
        base, values = best_by_value(supervised, components, validation)
        logger.info("residual base: %s (validation values %s)", base.name, values)
        train_pg_policy(components, envs, config.agents, agent_seed, out, base, members, name)
    return time.perf_counter() - started


def learned_folders(seed_dir: Path) -> list[str]:
    """The learned policies trained for a seed so far (folder names, sorted)."""
    if not seed_dir.is_dir():
        return []
    return sorted(p.name for p in seed_dir.iterdir() if (p / "policy.json").is_file())


def evaluate_seed(run: Path, seed_dir: Path, sessions: int, seed: int) -> dict:
    """Every baseline and every learned policy of the seed on the same traffic."""
    from fusionrank.evaluation.compare import compare_policies
    from fusionrank.runs import RunFolder

    policies = RunFolder(run).policies
    specs = [str(policies.of(b)) for b in BASELINES if policies.of(b).is_dir()]
    learned = learned_folders(seed_dir)
    specs += [str(seed_dir / p) for p in learned]
    result = compare_policies(
        run, specs, sessions, 1000 + seed, out=seed_dir / "evaluation", truth=True
    )
    return {**summarize(result), "learned": learned, "sessions": sessions}


def summarize(result: Any) -> dict:
    """The figures of the table from a :class:`ComparisonResult`."""
    out: dict[str, Any] = {
        "best_supervised": result.best_supervised,
        "kendall_tau": result.kendall_tau,
        "policies": {},
    }
    for policy in result.policies:
        row: dict[str, Any] = {}
        for world in result.metrics:
            key = "sim" if world == "fitted simulator" else "truth"
            mean, low, high = result.mean_ci(world, policy, "purchases")
            row[key] = {"mean": mean, "ci": [low, high]}
            gap = result.gap_closed.get(world, {}).get(policy, {}).get("purchases")
            row[key]["gap_closed"] = gap
            vs = result.vs_best.get(world, {}).get(policy)
            if vs is not None:
                row[key]["vs_best"] = {
                    "relative": vs.relative,
                    "ci": list(vs.relative_ci_bootstrap),
                    "diff": vs.diff,
                    "diff_ci": list(vs.ci_normal),
                }
        if policy in result.predicted:
            row["predicted"] = result.predicted[policy].to_dict()
        row["validation"] = result.validation.get(policy, float("nan"))
        out["policies"][policy] = row
    return out


def run_world(name: str, args: argparse.Namespace, cache: Path) -> None:
    run = prepare_world(name, cache, args.members)
    if args.prepare_only:
        return
    for seed in args.seeds:
        seed_dir = run / "bench" / f"seed-{seed}"
        for policy in args.policies:
            out = seed_dir / policy
            if (out / "policy.json").is_file():
                continue
            seconds = train_policy(run, policy, name, seed, cache, out)
            logger.info("%s seed %d: %s trained in %.0f s", name, seed, policy, seconds)
            write_json(seed_dir / f"{policy}.time.json", {"seconds": seconds})
        result_path = seed_dir / "result.json"
        done = read_json(result_path) if result_path.is_file() else {}
        if (
            done.get("learned") != learned_folders(seed_dir)
            or done.get("sessions") != args.sessions
        ):
            write_json(result_path, evaluate_seed(run, seed_dir, args.sessions, seed))


def main() -> None:
    from policy_transfer_table import print_tables

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cache", default=None, help="result folder (outside the repo)")
    parser.add_argument("--worlds", nargs="+", default=list(WORLDS), choices=list(WORLDS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    parser.add_argument("--sessions", type=int, default=20_000, help="sessions per arm and world")
    parser.add_argument("--members", type=int, default=5, help="simulator ensemble size")
    parser.add_argument("--table-only", action="store_true", help="print the cached results")
    parser.add_argument("--prepare-only", action="store_true", help="only the worlds' stages")
    parser.add_argument("--json", type=Path, default=None, help="write the table's data here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    cache = cache_root(args.cache)
    if not args.table_only:
        for name in args.worlds:
            run_world(name, args, cache)
    results = {
        name: {
            seed: read_json(path)
            for seed in args.seeds
            if (path := cache / "runs" / name / "bench" / f"seed-{seed}" / "result.json").is_file()
        }
        for name in args.worlds
    }
    tables = print_tables(results, {n: WORLDS[n].role for n in args.worlds})
    if args.json is not None:
        write_json(args.json, tables)


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    main()
